"use strict";
// The token comes from the URL the server printed; every request carries it.
const TOKEN = new URLSearchParams(location.search).get("token") || "";

async function load() {
  const r = await fetch("api/files", { headers: { "X-Redact-Token": TOKEN } });
  const data = await r.json();
  if (!r.ok) { document.getElementById("totals").textContent = data.error; return; }
  document.getElementById("root").textContent = data.root + "  →  " + data.out;
  const body = document.querySelector("#files tbody");
  body.innerHTML = "";
  const totals = {};
  for (const f of data.files) {
    const tr = document.createElement("tr");
    tr.dataset.plan = f.plan;
    const link = document.createElement("a");
    link.href = "review?plan=" + encodeURIComponent(f.plan) + "&token=" + encodeURIComponent(TOKEN);
    link.textContent = f.input || f.plan;
    const cells = [link];
    if (f.error) {
      cells.push(document.createTextNode("invalid plan: " + f.error));
    } else {
      const st = document.createElement("span");
      for (const s of f.status) {
        const b = document.createElement("span");
        b.className = "badge " + s; b.textContent = s; st.appendChild(b);
        totals[s] = (totals[s] || 0) + 1;
      }
      cells.push(st, document.createTextNode(f.frames),
        document.createTextNode(Object.entries(f.counts).map(([k, v]) => k + " " + v).join(", ") || "none"),
        document.createTextNode(`${f.excluded} excluded, ${f.manual} manual, ${f.audio} audio`));
    }
    for (const c of cells) { const td = document.createElement("td"); td.appendChild(c); tr.appendChild(td); }
    body.appendChild(tr);
  }
  document.getElementById("totals").textContent = `${data.files.length} files: ` +
    Object.entries(totals).map(([k, v]) => `${v} ${k}`).join(", ");
}
load();
