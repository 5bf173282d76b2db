// cutover dashboard: live updates by short polling of server-rendered HTML
// fragments (same origin, session cookie). Pages work without this script.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  function say(text) { if (status) { status.textContent = text; } }

  function checkVersion() {
    var controls = document.getElementById("controls");
    var root = document.querySelector("#live .live-root");
    var note = document.getElementById("stale-note");
    if (!controls || !root || !note) { return; }
    note.hidden = controls.getAttribute("data-version") === root.getAttribute("data-version");
  }

  document.querySelectorAll("[data-live]").forEach(function (el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-every"), 10) || 3000;
    var busy = false, stopped = false, last = el.innerHTML;
    function tick() {
      if (busy || stopped || document.hidden) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.status === 401) {
            stopped = true;
            throw new Error("signed out: reload the page to sign in again");
          }
          if (!r.ok) { throw new Error("update failed (HTTP " + r.status + "); retrying"); }
          return r.text();
        })
        .then(function (html) {
          el.setAttribute("data-updated", String(Date.now()));
          if (html === last) { return; } // nothing new: leave the page alone
          last = html;
          // Keep the groups the user folded folded.
          var folded = {};
          el.querySelectorAll("details[data-key]").forEach(function (d) {
            if (!d.open) { folded[d.getAttribute("data-key")] = true; }
          });
          // The fragment is escaped by html/template on the server.
          el.innerHTML = html;
          el.querySelectorAll("details[data-key]").forEach(function (d) {
            if (folded[d.getAttribute("data-key")]) { d.open = false; }
          });
          checkVersion();
          say("live · updated " + new Date().toLocaleTimeString());
        })
        .catch(function (err) { say(err.message); })
        .then(function () { busy = false; });
    }
    setInterval(tick, every);
    document.addEventListener("visibilitychange", tick);
  });
  checkVersion();
})();
