// The session note's editor: formatting buttons that insert the note's marks, and an autosaved draft.
// The page works without it (the form's "Save draft" button); with it, the draft is saved 3 seconds after the
// professional stops typing, and the status line says when.
(function () {
  "use strict";
  var form = document.getElementById("note-form");
  if (!form) return;
  var body = document.getElementById("note-body");
  var status = document.getElementById("note-autosave-status");
  var url = form.dataset.autosaveUrl;
  var timer = null;
  var lastSaved = body.value;

  function wrap(mark) {
    var start = body.selectionStart, end = body.selectionEnd, text = body.value;
    var chosen = text.slice(start, end) || form.dataset.sampleText || "";
    body.value = text.slice(0, start) + mark + chosen + mark + text.slice(end);
    body.focus();
    body.setSelectionRange(start + mark.length, start + mark.length + chosen.length);
    body.dispatchEvent(new Event("input"));
  }

  function listItem() {
    var start = body.selectionStart, text = body.value;
    var lineStart = text.lastIndexOf("\n", start - 1) + 1;
    if (text.slice(lineStart, lineStart + 2) !== "- ") {
      body.value = text.slice(0, lineStart) + "- " + text.slice(lineStart);
      body.setSelectionRange(start + 2, start + 2);
    }
    body.focus();
    body.dispatchEvent(new Event("input"));
  }

  form.querySelectorAll("[data-note-format]").forEach(function (button) {
    button.addEventListener("click", function () {
      var kind = button.dataset.noteFormat;
      if (kind === "bold") wrap("**");
      else if (kind === "italic") wrap("*");
      else listItem();
    });
  });

  function save() {
    timer = null;
    var text = body.value;
    if (!text.trim() || text === lastSaved) return;
    var data = new FormData(form);
    data.set("text", text);
    status.textContent = form.dataset.savingText;
    fetch(url, { method: "POST", body: data, headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (payload) { return { ok: response.ok, payload: payload }; });
      })
      .then(function (result) {
        if (result.ok) lastSaved = text;
        status.textContent = result.ok ? result.payload.message : result.payload.error;
        status.classList.toggle("text-danger", !result.ok);
      })
      .catch(function () {
        status.textContent = form.dataset.failedText;
        status.classList.add("text-danger");
      });
  }

  body.addEventListener("input", function () {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, 3000);
  });
  form.addEventListener("submit", function () {
    if (timer) clearTimeout(timer);
  });
})();
