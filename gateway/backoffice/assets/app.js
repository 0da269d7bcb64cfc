// The back office's page script: the dashboard's server-sent events,
// panels filled from the operator API's JSON, and buttons that post to the
// operator API with the session's CSRF token. No build step.
(function () {
  "use strict";

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrf-token"] || "";
    } catch (e) {
      return "";
    }
  }

  function flash(text, bad) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = bad ? "error" : "ok";
  }

  // Renders a JSON value as definition lists (objects), cards (arrays of
  // objects) or text, with the keys as labels.
  function render(value) {
    if (Array.isArray(value)) {
      var list = document.createElement("div");
      list.className = "items";
      if (value.length === 0) list.textContent = "None.";
      value.forEach(function (item) {
        var card = document.createElement("div");
        card.className = "item";
        card.appendChild(render(item));
        list.appendChild(card);
      });
      return list;
    }
    if (value !== null && typeof value === "object") {
      var dl = document.createElement("dl");
      Object.keys(value).forEach(function (key) {
        var dt = document.createElement("dt");
        dt.textContent = key.replace(/_/g, " ");
        var dd = document.createElement("dd");
        dd.setAttribute("data-key", key);
        dd.appendChild(render(value[key]));
        dl.appendChild(dt);
        dl.appendChild(dd);
      });
      return dl;
    }
    var span = document.createElement("span");
    span.textContent = value === null ? "—" : String(value);
    return span;
  }

  function loadPanels(root) {
    root.querySelectorAll("[data-api]").forEach(function (panel) {
      fetch(panel.getAttribute("data-api"), { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          panel.textContent = "";
          if (!result.ok) {
            var p = document.createElement("p");
            p.className = "note";
            p.textContent = (result.body.error && result.body.error.message) || "Not available.";
            panel.appendChild(p);
            return;
          }
          panel.appendChild(render(result.body));
          panel.setAttribute("data-loaded", "true");
        })
        .catch(function () { panel.textContent = "Not available."; });
    });
  }

  function connectFeed(root) {
    root.querySelectorAll("[data-sse]").forEach(function (section) {
      if (!window.EventSource) return;
      var source = new EventSource(section.getAttribute("data-sse"));
      source.addEventListener("figures", function (event) {
        section.innerHTML = event.data;
        section.setAttribute("data-updates", String(Number(section.getAttribute("data-updates") || "0") + 1));
      });
      window.addEventListener("pagehide", function () { source.close(); });
    });
  }

  function bindActions(root) {
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) return;
      button.disabled = true;
      fetch(button.getAttribute("data-action"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "x-csrf-token": csrf(), accept: "application/json" }
      })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          if (result.ok) {
            flash((result.body.payment || "") + ": " + (result.body.state || "done"), false);
            var row = button.closest("tr");
            if (row && result.body.state !== "awaiting_second_approval") row.remove();
          } else {
            flash((result.body.error && result.body.error.message) || "Refused.", true);
            button.disabled = false;
          }
        })
        .catch(function () {
          flash("The server did not answer.", true);
          button.disabled = false;
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    loadPanels(document);
    connectFeed(document);
    bindActions(document);
    document.body.addEventListener("htmx:afterSwap", function (event) { loadPanels(event.target); });
  });
})();
