// Paperhub: upvotes and saves without a reload, and copying BibTeX. The
// pages work without this script; it only saves a round trip.
"use strict";
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.classList.contains("save")) return;
  event.preventDefault();
  const data = new URLSearchParams(new FormData(form));
  try {
    const res = await fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "Accept": "application/json", "X-CSRF-Token": form.elements.csrf.value },
      credentials: "same-origin",
    });
    if (res.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (!res.ok) {
      form.submit();
      return;
    }
    const done = document.createElement("a");
    done.className = "saved";
    done.href = "/library";
    done.textContent = "Saved ✓";
    const row = document.createElement("p");
    row.className = "save-row";
    row.appendChild(done);
    form.replaceWith(row);
  } catch (_) {
    form.submit();
  }
});
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.classList.contains("vote")) return;
  event.preventDefault();
  const button = form.querySelector("button");
  const up = form.elements.up;
  const data = new URLSearchParams(new FormData(form));
  try {
    const res = await fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "Accept": "application/json", "X-CSRF-Token": form.elements.csrf.value },
      credentials: "same-origin",
    });
    if (res.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (!res.ok) return;
    const body = await res.json();
    button.querySelector("span").textContent = body.upvotes;
    button.classList.toggle("on", body.upvoted);
    button.setAttribute("aria-pressed", String(body.upvoted));
    up.value = body.upvoted ? "0" : "1";
  } catch (_) {
    form.submit();
  }
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (_) {
    button.textContent = "Select the text to copy";
  }
});
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.classList.contains("dismiss")) return;
  event.preventDefault();
  const data = new URLSearchParams(new FormData(form));
  try {
    const res = await fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "Accept": "application/json", "X-CSRF-Token": form.elements.csrf.value },
      credentials: "same-origin",
    });
    if (!res.ok) {
      form.submit();
      return;
    }
    const card = form.closest("article");
    const note = document.createElement("p");
    note.className = "hint dismissed";
    note.setAttribute("role", "status");
    note.textContent = "Hidden: For you will show fewer papers like this.";
    card.replaceWith(note);
  } catch (_) {
    form.submit();
  }
});
