// FaceDocket web UI: the little the pages need beyond HTML and htmx. No inline script anywhere
// (the Content-Security-Policy allows only files from this server).
(function () {
  "use strict";

  // htmx requests carry the page's CSRF token (forms carry it as a field too).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.dataset.csrf;
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });

  function typing(target) {
    var tag = target.tagName;
    return tag === "INPUT" && target.type !== "checkbox" && target.type !== "radio" || tag === "TEXTAREA" ||
      tag === "SELECT" || target.isContentEditable;
  }

  // The alert queue: n / p move to the next / previous alert (its card takes the focus; Tab
  // then reaches its reason and buttons).
  function stepAlert(forward) {
    var cards = Array.prototype.slice.call(document.querySelectorAll("[data-queue] article[data-alert]"));
    if (!cards.length) return false;
    var at = cards.indexOf(document.activeElement && document.activeElement.closest("article[data-alert]"));
    var next = at < 0 ? (forward ? 0 : cards.length - 1) : Math.min(Math.max(at + (forward ? 1 : -1), 0), cards.length - 1);
    cards[next].focus();
    cards[next].scrollIntoView({ block: "start" });
    return true;
  }

  // The live queue's long-poll: if the server could not be reached, ask again in 5 s.
  function retryPoll(event) {
    var poller = event.detail && event.detail.elt;
    if (poller && poller.hasAttribute("data-poller")) {
      window.setTimeout(function () { if (poller.isConnected) htmx.trigger(poller, "retry"); }, 5000);
    }
  }
  document.addEventListener("htmx:sendError", retryPoll);
  document.addEventListener("htmx:responseError", retryPoll);

  // The comparison view: n / ArrowRight next candidate, p / ArrowLeft previous, 1-3 choose a
  // disposition, l toggles the landmarks. Keys typed into a field are left alone.
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    var key = event.key;
    if ((key === "n" || key === "p") && document.querySelector("[data-queue]")) {
      if (stepAlert(key === "n")) event.preventDefault();
    } else if (key === "n" || key === "ArrowRight" || key === "p" || key === "ArrowLeft") {
      var link = document.querySelector(key === "n" || key === "ArrowRight" ? "a[rel=next]" : "a[rel=prev]");
      if (link) { event.preventDefault(); window.location.assign(link.href); }
    } else if (/^[1-9]$/.test(key)) {
      var radio = document.querySelector('#disposition-form input[data-key="' + key + '"]');
      if (radio) { event.preventDefault(); radio.checked = true; radio.focus(); }
    } else if (key === "l") {
      var toggle = document.querySelector("input[data-toggle=landmarks]");
      if (toggle) { event.preventDefault(); toggle.checked = !toggle.checked; }
    }
  });

  // The face picker: clicking a face on the photo chooses it.
  function choose(number) {
    var radio = document.getElementById("face-" + number);
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  }
  document.addEventListener("click", function (event) {
    var face = event.target.closest && event.target.closest("rect[data-face]");
    if (face) choose(face.dataset.face);
  });
  document.addEventListener("change", function (event) {
    if (event.target.name !== "probe_face") return;
    document.querySelectorAll("rect[data-face]").forEach(function (rect) {
      rect.classList.toggle("chosen", rect.dataset.face === event.target.value);
    });
  });
})();
