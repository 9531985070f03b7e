// The activity feed in sentences with times that keep up, and who is here.
import {html} from "./html.js";
import {ago, fullName, roleLabel} from "./labels.js";
import {plain} from "./sentences.js";

function Sentence({parts}) {
  return parts.map((part) => (typeof part === "string" ? part : html`<em>${part.em}</em>`));
}

export function Activity({state}) {
  return html`<section id="activity-section" class="card" aria-labelledby="feed-title">
    <div class="card-head"><h2 id="feed-title">Activity</h2></div>
    <ol id="feed" class="feed" aria-live="polite">
      ${state.feed.map((entry) => html`<li key=${entry.id} title=${plain(entry.parts)}>
        <span class="sentence"><${Sentence} parts=${entry.parts}/></span>
        <span class="when"> — <time datetime=${entry.at}>${ago(entry.at, state.now)}</time></span>
      </li>`)}
    </ol>
    ${state.feed.length === 0 && html`<p class="empty">Changes made by the team appear here as they happen.</p>`}
  </section>`;
}

export function Presence({state}) {
  return html`<section id="presence-section" class="card" aria-labelledby="presence-title">
    <div class="card-head"><h2 id="presence-title">Who is here</h2></div>
    <ul id="presence" class="presence" aria-live="polite">
      ${state.presence.map((user) => {
        const member = state.members.get(user.id);
        const role = member ? roleLabel(member.project_role || member.role) : "";
        return html`<li key=${user.id}><span class="dot" aria-hidden="true"></span>
          ${fullName(user)}${role && html` <span class="muted">· ${role}</span>`}</li>`;
      })}
    </ul>
    ${state.presence.length === 0 && html`<p class="empty">Not connected to the project room.</p>`}
  </section>`;
}
