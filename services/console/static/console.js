// Progressive enhancement only: every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The viewer's zone, where it differs from the road show's.
  for (const note of document.querySelectorAll("[data-zone]")) {
    const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const span = note.querySelector(".viewer-zone");
    if (span && mine && mine !== note.dataset.zone) {
      span.textContent = span.dataset.text.replace("{zone}", mine);
      span.hidden = false;
    }
  }
  // Live figures (a registration burst, a run): the block is fetched again and swapped in,
  // unless the viewer is working inside it (focus would be lost).
  const live = document.getElementById("live");
  if (live && live.dataset.refreshSeconds) {
    setInterval(async () => {
      if (live.contains(document.activeElement) && document.activeElement !== document.body) return;
      try {
        const r = await fetch(location.href, { headers: { Accept: "text/html" } });
        if (!r.ok) return;
        const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("live");
        if (fresh) live.replaceChildren(...fresh.childNodes);
      } catch (e) { /* the next round tries again */ }
    }, 1000 * Number(live.dataset.refreshSeconds));
  }
  // A scheduling job: poll its progress until it is done, then show the grid's link.
  const job = document.getElementById("job");
  if (!job) return;
  const bar = document.getElementById("job-progress");
  const status = document.getElementById("job-status");
  const poll = async () => {
    try {
      const r = await fetch(job.dataset.poll, { headers: { Accept: "application/json" } });
      if (r.ok) {
        const j = await r.json();
        bar.value = j.status === "succeeded" ? 1 : j.progress;
        status.dataset.status = j.status;
        status.textContent = job.dataset["status" + j.status[0].toUpperCase() + j.status.slice(1)] || j.status;
        if (j.status === "succeeded") {
          document.getElementById("job-meetings").textContent = j.meetings;
          document.getElementById("job-proven").hidden = !j.proven;
          document.getElementById("job-result").hidden = false;
          return;
        }
        if (j.status === "failed") return;
      }
    } catch (e) { /* the next poll tries again */ }
    setTimeout(poll, 500);
  };
  if (status.dataset.status !== "succeeded" && status.dataset.status !== "failed") poll();
});
