// Paperhub: upvotes, saves and "not interested" without a reload, and
// copying BibTeX. The pages work without this script; it only saves a
// round trip.
"use strict";

// POSTs `form` as the page would, asking for JSON. Returns the response,
// or null when the caller has nothing left to do: the viewer was sent to
// sign in (401), or the request failed and the form was submitted the
// ordinary way instead (`submitOnError`, so a reload shows the outcome).
async function postForm(form, { submitOnError = true } = {}) {
  try {
    const res = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "application/json", "X-CSRF-Token": form.elements.csrf.value },
      credentials: "same-origin",
    });
    if (res.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
      return null;
    }
    if (!res.ok) {
      if (submitOnError) form.submit();
      return null;
    }
    return res;
  } catch (_) {
    form.submit();
    return null;
  }
}

// Runs `handle(form)` instead of a reload for forms with class `name`.
function onSubmit(name, handle) {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.classList.contains(name)) return;
    event.preventDefault();
    handle(form);
  });
}

onSubmit("save", async (form) => {
  if (!(await postForm(form))) return;
  const done = document.createElement("a");
  done.className = "saved";
  done.href = "/library";
  done.textContent = "Saved ✓";
  const row = document.createElement("p");
  row.className = "save-row";
  row.appendChild(done);
  form.replaceWith(row);
});

onSubmit("vote", async (form) => {
  // A refused vote (a curator's own rules, a race) leaves the count as is.
  const res = await postForm(form, { submitOnError: false });
  if (!res) return;
  const body = await res.json();
  const button = form.querySelector("button");
  button.querySelector("span").textContent = body.upvotes;
  button.classList.toggle("on", body.upvoted);
  button.setAttribute("aria-pressed", String(body.upvoted));
  form.elements.up.value = body.upvoted ? "0" : "1";
});

onSubmit("dismiss", async (form) => {
  if (!(await postForm(form))) return;
  const note = document.createElement("p");
  note.className = "hint dismissed";
  note.setAttribute("role", "status");
  note.textContent = "Hidden: For you will show fewer papers like this.";
  form.closest("article").replaceWith(note);
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
