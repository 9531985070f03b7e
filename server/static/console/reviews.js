// The reviews of the open project's records: each with its steps, reviewers' tasks and ball
// in court as REST reads them, a reviewer's response, and the change events that move them
// (review.*, review_task.*).
import {api, fetchAll, requestId} from "./api.js";
import {newRequest} from "./data.js";
import {today} from "./labels.js";
import {getState, say, toast, update, without} from "./store.js";

export const REVIEW_EVENTS = new Set(["review", "review_task"]);

/** The project's reviews, newest first (the running ones and the decided ones). */
export async function loadReviews(projectId) {
  const reviews = await fetchAll(`/reviews?project_id=${projectId}`, 400);
  if (getState().projectId !== projectId) return;
  update({reviews: new Map(reviews.map((r) => [r.id, r]))});
}

function put(review) {
  // Ball in court and the tasks are computed per read: take the answer whole unless a
  // newer version of the review is held.
  update((s) => {
    const held = s.reviews.get(review.id);
    if (held && held.version > review.version) return {};
    return {reviews: new Map(s.reviews).set(review.id, review), changed: review.id};
  });
}

const reads = new Map();   // review id -> the number of its latest read: an older answer is dropped

export async function rereadReview(reviewId) {
  const projectId = getState().projectId;
  const n = (reads.get(reviewId) || 0) + 1;
  reads.set(reviewId, n);
  try {
    const review = await api(`/reviews/${reviewId}`);
    if (getState().projectId === projectId && reads.get(reviewId) === n) put(review);
  } catch (error) {
    if (error.status === 404) update((s) => ({reviews: without(s.reviews, reviewId)}));
  }
}

/** A change event of a review or of one of its tasks: read the review again. */
export function reviewEvent(event) {
  const data = event.data || {};
  if (event.resource === "review") rereadReview(event.record_id);
  else if (event.resource === "review_task" && data.review_id) rereadReview(data.review_id);
}

/** Whether the signed-in user may answer a task: theirs by name, by their role on the
 * project's team, or by their client company (the API checks again). */
export function canAnswer(task, user, members) {
  if (task.state !== "pending") return false;
  if (task.reviewer_kind === "user") return task.reviewer_ref === user.id;
  if (task.reviewer_kind === "role") {
    const member = members.get(user.id);
    return Boolean(member) && member.project_role === task.reviewer_ref;
  }
  return task.reviewer_kind === "client" && Boolean(user.client_id)
    && user.client_id === task.reviewer_ref;
}

export const isLate = (task, now = Date.now()) =>
  task.state === "pending" && Boolean(task.due_on) && task.due_on < today(now);

export async function respondTask(task, outcome, comment) {
  say(null, "");
  const rid = newRequest(requestId());
  try {
    const review = await api(`/review-tasks/${task.id}/respond`, {
      method: "POST", rid, body: {outcome, comment: comment || null}});
    reads.set(review.id, (reads.get(review.id) || 0) + 1);   // a read begun before it is older
    put(review);
    toast("Your response is recorded");
    return true;
  } catch (error) {
    say("error", error.message);
    await rereadReview(task.review_id);
    return false;
  }
}
