// The back office's page script: the dashboard's server-sent events,
// panels filled from the operator API's JSON, and buttons that post to the
// operator API with the session's CSRF token (buttons with `data-action`,
// forms with `data-submit` sending JSON). No build step.
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
          return response.json().then(function (body) { return { ok: response.ok, status: response.status, body: body }; });
        })
        .then(function (result) {
          panel.textContent = "";
          if (!result.ok) {
            panel.setAttribute("data-status", String(result.status));
            var p = document.createElement("p");
            p.className = "note";
            p.textContent = (result.body.error && result.body.error.message) || "Not available.";
            panel.appendChild(p);
            return;
          }
          // `data-pick` shows one key of the answer (a count, a score).
          var pick = panel.getAttribute("data-pick");
          panel.appendChild(render(pick ? result.body[pick] : result.body));
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

  // Sends one operator API call with the session's CSRF token; `body` is
  // a JSON value or undefined.
  function call(method, url, body) {
    var headers = { "x-csrf-token": csrf(), accept: "application/json" };
    var init = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var parsed = {};
        try { parsed = text ? JSON.parse(text) : {}; } catch (e) { parsed = {}; }
        return { ok: response.ok, body: parsed };
      });
    });
  }

  // Reloads the page's content (not the flash message) after a change, so
  // queues and panels show the new state.
  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        var content = document.getElementById("content");
        if (fresh && content) {
          content.replaceWith(fresh);
          loadPanels(fresh);
        }
      });
  }

  function refused(result) {
    return (result.body.error && result.body.error.message) || "Refused.";
  }

  // A form posting JSON to the operator API: `data-submit` is the URL,
  // `data-method` the method (POST by default); each named field becomes a
  // key (`data-json=number` fields a number, `data-json=list` a list of
  // numbers, `data-json=json` parsed JSON, `data-json=optional` and
  // `optional-number` left out when empty), the clicked submit button's
  // name and value too. `data-path` names a field whose value ends the URL
  // (a code to create or replace) instead of going in the body.
  function submitForm(form, submitter) {
    var body = {};
    var url = form.getAttribute("data-submit");
    var pathField = form.getAttribute("data-path");
    var bad = null;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === "submit" || field.disabled) return;
      var value = field.value;
      if (field.name === pathField) {
        url += encodeURIComponent(value);
        return;
      }
      var kind = field.getAttribute("data-json");
      if ((kind === "optional" || kind === "optional-number") && value.trim() === "") return;
      if (kind === "number" || kind === "optional-number") value = Number(value);
      if (kind === "list") value = value.split(",").filter(Boolean).map(Number);
      if (kind === "json") {
        try { value = JSON.parse(value); } catch (e) { bad = field.name + ": not valid JSON"; }
      }
      body[field.name] = value;
    });
    if (bad) {
      flash(bad, true);
      return;
    }
    if (submitter && submitter.name) body[submitter.name] = submitter.value;
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    call(form.getAttribute("data-method") || "POST", url, body)
      .then(function (result) {
        if (result.ok) {
          flash(form.getAttribute("data-done") || "Done.", false);
          return refresh();
        }
        flash(refused(result), true);
        buttons.forEach(function (b) { b.disabled = false; });
      })
      .catch(function () {
        flash("The server did not answer.", true);
        buttons.forEach(function (b) { b.disabled = false; });
      });
  }

  function bindActions(root) {
    root.addEventListener("submit", function (event) {
      var form = event.target.closest("form[data-submit]");
      if (!form) return;
      event.preventDefault();
      submitForm(form, event.submitter);
    });
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) return;
      button.disabled = true;
      var body = button.getAttribute("data-body");
      call(button.getAttribute("data-method") || "POST", button.getAttribute("data-action"),
           body ? JSON.parse(body) : undefined)
        .then(function (result) {
          if (result.ok) {
            if (button.hasAttribute("data-done")) {
              flash(button.getAttribute("data-done"), false);
              return refresh();
            }
            flash((result.body.payment || "") + ": " + (result.body.state || "done"), false);
            var row = button.closest("tr");
            if (row && result.body.state !== "awaiting_second_approval") row.remove();
          } else {
            flash(refused(result), true);
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
