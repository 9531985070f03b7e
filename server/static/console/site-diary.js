// Today's site diary: started from the page (with yesterday's manpower if wanted), manpower
// by company and the day's notes added while it is open, Complete for the site manager; a
// completed diary is shown locked (who completed it and when), with no forms.
import {useEffect, useState} from "../vendor/preact-hooks.mjs";
import {nameOf} from "./data.js";
import {addManpower, COMPLETE_DIARY, completeDiary, loadDiary, saveNotes, startDiary, todayIn,
        WRITE_DIARY} from "./diaries.js";
import {ExportMenu} from "./export-menu.js";
import {html} from "./html.js";
import {ago, amount, humanize, plural, shortDate} from "./labels.js";

function Manpower({diary}) {
  const rows = diary.manpower || [];
  const workers = rows.reduce((n, r) => n + (Number(r.workers) || 0), 0);
  const hours = rows.reduce((n, r) => n + (Number(r.hours) || 0), 0);
  return html`<h3>Manpower <span class="muted" id="diary-manpower-total">${`${plural(workers, "worker")} · ${amount(hours, 1)} h`}</span></h3>
    ${rows.length === 0 ? html`<p class="note">Nobody on site yet.</p>` : html`<ul id="diary-manpower" class="crew">
      ${rows.map((r) => html`<li><strong>${r.company}</strong>${r.trade ? ` · ${r.trade}` : ""}
        <span class="muted"> — ${plural(r.workers, "worker")}, ${amount(r.hours, 1)} h</span></li>`)}
    </ul>`}`;
}

function AddManpower({diary}) {
  const [company, setCompany] = useState("");
  const [trade, setTrade] = useState("");
  const [workers, setWorkers] = useState("");
  const [hours, setHours] = useState("");
  const [busy, setBusy] = useState(false);
  const ok = company.trim() && Number(workers) >= 0 && workers !== "" && Number(hours) >= 0 && hours !== "";
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    const entry = {company: company.trim(), workers: Number(workers), hours: Number(hours),
                   ...(trade.trim() ? {trade: trade.trim()} : {})};
    if (await addManpower(diary, entry)) {
      setCompany("");
      setTrade("");
      setWorkers("");
      setHours("");
    }
    setBusy(false);
  };
  return html`<form id="diary-manpower-form" class="inline-form" onSubmit=${submit}>
    <label for="diary-company">Company</label>
    <input id="diary-company" required maxlength="200" value=${company}
           onInput=${(e) => setCompany(e.currentTarget.value)}/>
    <label for="diary-trade">Trade (optional)</label>
    <input id="diary-trade" maxlength="200" value=${trade} onInput=${(e) => setTrade(e.currentTarget.value)}/>
    <div class="form-row">
      <div><label for="diary-workers">Workers</label>
        <input id="diary-workers" type="number" min="0" max="10000" step="1" required value=${workers}
               onInput=${(e) => setWorkers(e.currentTarget.value)}/></div>
      <div><label for="diary-hours">Hours</label>
        <input id="diary-hours" type="number" min="0" max="100000" step="0.5" required value=${hours}
               onInput=${(e) => setHours(e.currentTarget.value)}/></div>
    </div>
    <button type="submit" class="primary" disabled=${busy || !ok}>${busy ? "Adding…" : "Add manpower"}</button>
  </form>`;
}

function Notes({diary}) {
  const saved = diary.notes || "";
  const [notes, setNotes] = useState(saved);
  const [base, setBase] = useState(saved);     // the notes this form started from
  const [busy, setBusy] = useState(false);
  // Someone else's notes arrive in the form unless this user is writing their own.
  useEffect(() => {
    if (saved !== base) {
      if (notes === base) setNotes(saved);
      setBase(saved);
    }
  }, [saved]);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    const done = await saveNotes(diary, notes.trim());
    if (done) {
      setNotes(done.notes || "");
      setBase(done.notes || "");
    }
    setBusy(false);
  };
  return html`<form id="diary-notes-form" class="inline-form" onSubmit=${submit}>
    <label for="diary-notes">The day's notes</label>
    <textarea id="diary-notes" rows="3" maxlength="10000" value=${notes}
              onInput=${(e) => setNotes(e.currentTarget.value)}></textarea>
    <button type="submit" class="primary" disabled=${busy || notes.trim() === (diary.notes || "")}>
      ${busy ? "Saving…" : "Save notes"}</button>
  </form>`;
}

/** The sections the page does not edit (entered elsewhere), shown as they are. */
function Others({diary}) {
  const lines = [
    ...(diary.deliveries || []).map((d) => ["Delivery", [d.description, d.quantity, d.supplier].filter(Boolean).join(" · ")]),
    ...(diary.visitors || []).map((v) => ["Visitor", [v.name, v.company, v.purpose].filter(Boolean).join(" · ")]),
    ...(diary.delays || []).map((d) => ["Delay", `${d.cause} · ${amount(d.hours_lost, 1)} h lost${d.description ? ` · ${d.description}` : ""}`]),
    ...(diary.safety || []).map((s) => [humanize(s.kind), `${s.description}${s.severity ? ` (${s.severity})` : ""}`]),
  ];
  const weather = diary.weather || {};
  const sky = [weather.conditions, weather.temperature_max_c !== undefined ? `${weather.temperature_max_c} °C` : "",
               weather.site_workable === false ? "site not workable" : ""].filter(Boolean).join(" · ");
  if (lines.length === 0 && !sky) return null;
  return html`<dl class="facts diary-others">
    ${sky && html`<div><dt>Weather</dt><dd>${sky}</dd></div>`}
    ${lines.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}
  </dl>`;
}

function Start({canWrite}) {
  const [copy, setCopy] = useState(true);
  const [busy, setBusy] = useState(false);
  if (!canWrite) return html`<p class="empty">No diary for today yet.</p>`;
  const go = async () => {
    setBusy(true);
    await startDiary(copy);
    setBusy(false);
  };
  return html`<div class="inline-form">
    <p class="empty">No diary for today yet.</p>
    <label class="check"><input id="diary-copy" type="checkbox" checked=${copy}
        onChange=${(e) => setCopy(e.currentTarget.checked)}/>Start with the last diary's manpower</label>
    <button type="button" id="diary-start" class="primary" disabled=${busy} onClick=${go}>
      ${busy ? "Starting…" : "Start today's diary"}</button>
  </div>`;
}

function Complete({diary}) {
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    await completeDiary(diary);
    setBusy(false);
  };
  return html`<div class="inline-form"><button type="button" id="diary-complete" class="primary"
      disabled=${busy} onClick=${go}>${busy ? "Completing…" : "Complete and lock today's diary"}</button>
    <p class="note">Once complete, only a project manager can change it, giving a reason.</p></div>`;
}

export function Diary({state}) {
  const role = state.session.user.role;
  const diary = state.diary;
  const day = state.diaryDay;
  const canWrite = WRITE_DIARY.has(role);
  // The day moves on at midnight in the project's zone: read the new day's diary then.
  const now = state.diaryZone ? todayIn(state.diaryZone, state.now) : null;
  useEffect(() => {
    if (now && day && now !== day) loadDiary(state.projectId).catch(() => {});
  }, [now, day]);
  if (role === "client") return null;     // the site diary is for staff only
  const locked = diary && diary.status === "complete";
  return html`<section id="diary-section" class="card" aria-labelledby="diary-title">
    <div class="card-head"><h2 id="diary-title">Site diary</h2>
      <span class="muted" id="diary-day">${day ? html`Today, <time datetime=${day}>${shortDate(day, state.now)}</time>` : ""}${state.diaryZone ? ` · ${state.diaryZone}` : ""}</span>
      <${ExportMenu} list="diaries" state=${state}/></div>
    ${!state.diaryRead && html`<p class="note">Reading today's diary…</p>`}
    ${state.diaryRead && !diary && html`<${Start} canWrite=${canWrite}/>`}
    ${diary && html`<div id="diary" class=${`diary ${diary.status}`} data-id=${diary.id} data-status=${diary.status}>
      <p class="diary-status">${locked
        ? html`<span class="badge locked">Complete · locked</span> <span class="muted" id="diary-completed">by ${nameOf(diary.completed_by)}
            ${diary.completed_at && html`, <time datetime=${diary.completed_at}>${ago(diary.completed_at, state.now)}</time>`}</span>`
        : html`<span class="badge open">Open</span> <span class="muted">started by ${nameOf(diary.created_by)}</span>`}</p>
      <${Manpower} diary=${diary}/>
      ${!locked && canWrite && html`<${AddManpower} key=${diary.id} diary=${diary}/>`}
      <h3>Notes</h3>
      ${locked || !canWrite
        ? html`<p class="text" id="diary-notes-text">${diary.notes || html`<span class="muted">No notes.</span>`}</p>`
        : html`<${Notes} key=${diary.id} diary=${diary}/>`}
      <${Others} diary=${diary}/>
      ${!locked && COMPLETE_DIARY.has(role) && html`<${Complete} diary=${diary}/>`}
    </div>`}
  </section>`;
}
