// Times on every page: UTC as the server writes them, or the reader's own zone on request.
//
// Each time is `<time class="moment" datetime="…Z">YYYY-MM-DD HH:MM:SS UTC</time>`
// (the `moment` template tag). The footer's "Times: UTC | local" choice is kept in
// localStorage; with "local", every such time, also those a page adds later (the
// transcript loads chunks), reads as the same shape in the browser's zone, with
// the zone's short name, and keeps its UTC text as its title.
(function () {
  "use strict";

  var KEY = "trackerweb.times";
  var LOCAL = "local";
  var UTC = "utc";
  var SELECTOR = "time.moment[datetime]";

  function chosen() {
    try {
      return window.localStorage.getItem(KEY) === LOCAL ? LOCAL : UTC;
    } catch (e) {  // storage turned off: UTC, as without this script
      return UTC;
    }
  }

  function remember(zone) {
    try {
      window.localStorage.setItem(KEY, zone);
    } catch (e) { /* the choice holds for this page only */ }
  }

  var localParts = new Intl.DateTimeFormat("en-US", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23", timeZoneName: "short", numberingSystem: "latn"
  });

  function pad(text, width) {
    while (text.length < width) text = "0" + text;
    return text;
  }

  function localText(moment) {
    var parts = {};
    localParts.formatToParts(moment).forEach(function (part) { parts[part.type] = part.value; });
    return pad(parts.year, 4) + "-" + parts.month + "-" + parts.day + " " +
      parts.hour + ":" + parts.minute + ":" + parts.second + " " + parts.timeZoneName;
  }

  function show(element, zone) {
    if (!("utcText" in element.dataset)) {
      element.dataset.utcText = element.textContent;
      element.dataset.utcTitle = element.getAttribute("title") || "";
    }
    if (zone === LOCAL) {
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment.getTime())) return;
      element.textContent = localText(moment);
      element.title = element.dataset.utcText;
    } else {
      element.textContent = element.dataset.utcText;
      if (element.dataset.utcTitle) element.title = element.dataset.utcTitle;
      else element.removeAttribute("title");
    }
  }

  function showAll(root, zone) {
    if (root.matches && root.matches(SELECTOR)) show(root, zone);
    if (root.querySelectorAll) root.querySelectorAll(SELECTOR).forEach(function (element) { show(element, zone); });
  }

  var zone = chosen();
  document.documentElement.dataset.times = zone;

  function choose(next) {
    zone = next;
    remember(zone);
    document.documentElement.dataset.times = zone;
    showAll(document, zone);
    markChoice();
  }

  var toggle = document.getElementById("times-toggle");

  function markChoice() {
    if (!toggle) return;
    toggle.querySelectorAll("button[data-times]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.times === zone));
    });
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-times]");
      if (button) choose(button.dataset.times === LOCAL ? LOCAL : UTC);
    });
    markChoice();
  }

  if (zone === LOCAL) showAll(document, zone);

  // Times a page adds later: rewritten as they arrive. Rewriting a time's own
  // text adds only a text node, which this skips.
  new MutationObserver(function (records) {
    if (zone !== LOCAL) return;
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) {
        if (node.nodeType === Node.ELEMENT_NODE) showAll(node, zone);
      });
    });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
