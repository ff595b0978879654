// The conversation page, enhanced: the slots and the story so far as of a
// clicked event, toggles for the quiet markers, the next chunks of a long
// transcript fetched as the reader scrolls, a flag's form in place of the flag
// page, and the way to problem turns and search matches (buttons and keys),
// also in chunks not loaded yet. Without this file the page still shows
// everything, one chunk per page, with its lists of links, and flags on a
// page of their own. Times are site-wide (times.js).
(function () {
  "use strict";

  var transcript = document.getElementById("transcript");
  if (!transcript) {
    return;
  }
  var rows = transcript.tBodies[0];

  // -- slots as of an event ---------------------------------------------------
  // Each event row carries the slots it changed (data-slot-changes: name ->
  // {text, json}, or null for a slot no longer reported); the table carries
  // the slots before its first row. Rows arrive in order, so folding the
  // changes up to a row gives the slots after it. The server formats values
  // (JSON.parse would round 9007199254740993).

  var slotsBody = document.getElementById("slots").tBodies[0];
  var latestSlots = slotsBody.cloneNode(true);
  var asOf = document.getElementById("slots-as-of");
  var latestButton = document.getElementById("slots-latest");
  var selected = null;

  // A Map, so that no slot name (not even "__proto__") is special.
  function applyChanges(slots, changes) {
    Object.entries(changes).forEach(function (change) {
      if (change[1] === null) {
        slots.delete(change[0]);
      } else {
        slots.set(change[0], change[1]);
      }
    });
  }

  // A session start or restart lists every slot after it (the server replays a
  // chunk from the latest one); a slot it doesn't list is null ("null": Rasa
  // without a domain keeps reporting it) or no longer reported ("drop").
  function applyReset(slots, reset) {
    if (reset === "null") {
      slots.forEach(function (value, name) {
        slots.set(name, {text: "null", json: true});
      });
    } else if (reset === "drop") {
      slots.clear();
    }
  }

  function slotsAfter(row) {
    var slots = new Map(Object.entries(JSON.parse(transcript.dataset.slotsBefore || "{}")));
    var index = Number(row.dataset.index);
    var changing = rows.querySelectorAll("tr.event[data-slot-changes]");
    for (var i = 0; i < changing.length && Number(changing[i].dataset.index) <= index; i++) {
      applyReset(slots, changing[i].dataset.slotReset);
      applyChanges(slots, JSON.parse(changing[i].dataset.slotChanges));
    }
    return slots;
  }

  function slotRow(name, slot, changed) {
    var tr = document.createElement("tr");
    tr.dataset.slot = name;
    if (changed) {
      tr.className = "changed";
    }
    var th = document.createElement("th");
    th.textContent = name;
    var td = document.createElement("td");
    if (slot.json) {
      var code = document.createElement("code");
      code.textContent = slot.text;
      td.append(code);
    } else {
      td.textContent = slot.text;
    }
    tr.append(th, td);
    return tr;
  }

  function select(row) {
    if (selected) {
      selected.classList.remove("selected");
    }
    selected = row;
    row.classList.add("selected");
  }

  function showSlotsAfter(row) {
    var slots = slotsAfter(row);
    var changed = new Map(Object.entries(row.dataset.slotChanges ? JSON.parse(row.dataset.slotChanges) : {}));
    var names = Array.from(slots.keys()).sort();
    var body = document.createElement("tbody");
    names.forEach(function (name) {
      body.append(slotRow(name, slots.get(name), Boolean(changed.get(name))));
    });
    if (!names.length) {
      var empty = document.createElement("tr");
      var cell = document.createElement("td");
      cell.textContent = "No slots set.";
      empty.append(cell);
      body.append(empty);
    }
    slotsBody.replaceWith(body);
    slotsBody = body;
    asOf.textContent = "after event #" + row.dataset.index + " (" + row.dataset.type + ")";
    latestButton.hidden = false;
    select(row);
    showStory();
  }

  function showLatestSlots() {
    var body = latestSlots.cloneNode(true);
    slotsBody.replaceWith(body);
    slotsBody = body;
    asOf.textContent = "after the latest event";
    latestButton.hidden = true;
    if (selected) {
      selected.classList.remove("selected");
      selected = null;
    }
    showStory();
  }

  // -- the story so far -----------------------------------------------------------
  // The conversation up to the selected event as Rasa story steps, written by
  // the server's story writer (the one saved stories use), fetched when open.

  var story = document.getElementById("story-so-far");
  var storyText = document.getElementById("story-yaml");
  var storyStatus = document.getElementById("story-status");
  var storyShown = null;

  function showStory() {
    if (!story.open) {
      return;
    }
    if (!selected) {
      storyText.textContent = "";
      storyStatus.textContent = "Click an event to see the story up to it.";
      storyShown = null;
      return;
    }
    var until = selected.dataset.index;
    if (storyShown === until) {
      return;
    }
    storyShown = until;
    storyStatus.textContent = "Loading…";
    var url = new URL(transcript.dataset.storyUrl, window.location.href);
    url.searchParams.set("until", until);
    fetch(url.href, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the server answered " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (storyShown === String(answer.until)) {
          storyText.textContent = answer.yaml;
          storyStatus.textContent = "Up to event #" + answer.until + ", as Rasa story steps:";
        }
      })
      .catch(function (error) {
        storyShown = null;
        storyStatus.textContent = "Could not load the story (" + error.message + ").";
      });
  }

  story.addEventListener("toggle", showStory);
  story.hidden = false;

  rows.addEventListener("click", function (event) {
    var row = event.target.closest("tr.event");
    // Typing a flag's note is no request for the slots.
    if (row && !event.target.closest(".flag-inline, .event-actions, .annotate, .annotation")) {
      showSlotsAfter(row);
    }
  });
  latestButton.addEventListener("click", showLatestSlots);
  document.getElementById("slots-hint").hidden = false;

  function selectFromHash() {
    var match = /^#event-(\d+)$/.exec(window.location.hash);
    var row = match && document.getElementById("event-" + match[1]);
    // A click on an event's #N link selected it already, before the hash changed.
    if (row && row !== selected) {
      showSlotsAfter(row);
      // Rows out of view are laid out at a guessed height: the browser's own jump may be off.
      row.scrollIntoView({block: "center"});
    }
  }

  // -- toggles ------------------------------------------------------------------

  function remembered(key) {
    try {
      return window.localStorage.getItem(key) === "1";
    } catch (e) {
      return false;  // storage disabled: the toggle just isn't remembered
    }
  }

  function remember(key, on) {
    try {
      window.localStorage.setItem(key, on ? "1" : "0");
    } catch (e) {
      // storage disabled or full: nothing to remember it in
    }
  }

  var toggles = document.getElementById("transcript-toggles");
  toggles.querySelectorAll("input[data-hide]").forEach(function (checkbox) {
    var key = "trackerweb.conversation.hide-" + checkbox.dataset.hide;
    var apply = function () {
      transcript.classList.toggle("hide-" + checkbox.dataset.hide, checkbox.checked);
    };
    checkbox.checked = remembered(key);
    apply();
    checkbox.addEventListener("change", function () {
      apply();
      remember(key, checkbox.checked);
    });
  });
  toggles.hidden = false;

  // -- session headers in fetched chunks ------------------------------------------------
  // The page knows every session's first event (data-sessions); a chunk read
  // from its latest reset can't number them, so its headers are added here.

  var sessions = JSON.parse(transcript.dataset.sessions || "[]");

  function sessionHeader(session) {
    var tr = document.createElement("tr");
    tr.className = "session-header";
    tr.id = "session-" + session.number;
    tr.dataset.session = String(session.number);
    var td = document.createElement("td");
    td.className = "session-title";
    td.colSpan = 2;
    td.textContent = "Session " + session.number;
    if (session.time) {
      var time = document.createElement("time");
      time.className = "moment";
      time.dateTime = session.time.iso;
      time.textContent = session.time.utc;
      td.append(" · started ", time);
    }
    tr.append(td);
    return tr;
  }

  function addSessionHeaders(fragment, start, stop) {
    sessions.forEach(function (session) {
      var row = fragment.getElementById("event-" + session.index);
      if (session.index >= start && session.index < stop && row && !document.getElementById("session-" + session.number)) {
        row.before(sessionHeader(session));
      }
    });
  }

  // -- problem turns and search matches --------------------------------------------------
  // The server lists their indexes (data-problems, data-matches). One that is
  // loaded is scrolled to and selected; another one opens the page of the
  // chunk that holds it, at #event-N.

  var chunkSize = Number(transcript.dataset.chunkSize) || 200;

  function currentIndex() {
    if (selected) {
      return Number(selected.dataset.index);
    }
    var match = /^#event-(\d+)$/.exec(window.location.hash);
    // Nothing chosen yet: from the top of this page's chunk.
    return match ? Number(match[1]) : Number(transcript.dataset.offset || 0) - 1;
  }

  function goToEvent(index) {
    var row = document.getElementById("event-" + index);
    if (row) {
      row.scrollIntoView({block: "center"});
      showSlotsAfter(row);
      window.history.replaceState(null, "", "#event-" + index);
      return;
    }
    var url = new URL(window.location.href);
    var offset = index - (index % chunkSize);
    if (offset) {
      url.searchParams.set("offset", String(offset));
    } else {
      url.searchParams.delete("offset");
    }
    url.hash = "event-" + index;
    window.location.assign(url.href);
  }

  function stepper(indexes, position) {
    return function (direction) {
      var here = currentIndex();
      var target = null;
      if (direction > 0) {
        target = indexes.find(function (index) { return index > here; });
      } else {
        for (var i = indexes.length - 1; i >= 0; i--) {
          if (indexes[i] < here) {
            target = indexes[i];
            break;
          }
        }
      }
      if (target === undefined || target === null) {
        position.textContent = direction > 0 ? "No later one." : "No earlier one.";
        return;
      }
      position.textContent = (indexes.indexOf(target) + 1) + " of " + indexes.length;
      goToEvent(target);
    };
  }

  function wireSteps(indexes, nav, previousButton, nextButton, position) {
    if (!nav || !indexes.length) {
      return null;
    }
    var step = stepper(indexes, position);
    previousButton.addEventListener("click", function () { step(-1); });
    nextButton.addEventListener("click", function () { step(1); });
    nav.hidden = false;
    var here = indexes.indexOf(currentIndex());
    if (here >= 0) {
      position.textContent = (here + 1) + " of " + indexes.length;
    }
    return step;
  }

  var problemStep = wireSteps(JSON.parse(transcript.dataset.problems || "[]"), document.getElementById("problem-nav"),
                              document.getElementById("previous-problem"), document.getElementById("next-problem"),
                              document.getElementById("problem-position"));
  wireSteps(JSON.parse(transcript.dataset.matches || "[]"), document.getElementById("match-nav"),
            document.getElementById("previous-match"), document.getElementById("next-match"),
            document.getElementById("match-position"));

  // -- keyboard shortcuts -----------------------------------------------------------------
  // n/p problem turns, j/k conversations, / search, ? the list. None fires
  // while the reader types in a field.

  function typing(target) {
    if (!target || !target.closest) {
      return false;
    }
    if (target.tagName === "INPUT") {
      return !/^(checkbox|radio|button|submit|reset)$/.test(target.type);  // a box ticked is no typing
    }
    return Boolean(target.isContentEditable || target.closest("textarea, select, [contenteditable]"));
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link) {
      window.location.assign(link.href);
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var shortcuts = document.getElementById("shortcuts");
    switch (event.key) {
    case "n":
    case "p":
      if (problemStep) {
        problemStep(event.key === "n" ? 1 : -1);
      }
      break;
    case "j":
      follow("next-conversation");
      break;
    case "k":
      follow("previous-conversation");
      break;
    case "/":
      document.getElementById("search").focus();
      break;
    case "?":
      shortcuts.open = !shortcuts.open;
      if (shortcuts.open) {
        shortcuts.querySelector("summary").focus();
      }
      break;
    default:
      return;
    }
    event.preventDefault();
  });

  // -- progressive loading --------------------------------------------------------

  var more = document.getElementById("load-more");
  var status = document.getElementById("load-status");
  var lastShown = document.getElementById("last-shown");
  var loading = false;
  var observer = null;

  function appendChunk(chunk) {
    // The server rendered and escaped these rows with the page's own template.
    var template = document.createElement("template");
    template.innerHTML = chunk.html;
    addSessionHeaders(template.content, chunk.offset, chunk.stop);
    rows.append(template.content);
    lastShown.textContent = String(chunk.stop - 1);
    if (chunk.next_offset === null) {
      if (observer) {
        observer.disconnect();
      }
      more.parentNode.remove();
      more = null;
    } else {
      more.dataset.nextOffset = String(chunk.next_offset);
      more.dataset.fromReset = String(chunk.from_reset);
      var next = new URL(more.href);
      next.searchParams.set("offset", String(chunk.next_offset));
      more.href = next.href;
    }
  }

  function loadMore() {
    if (loading || !more) {
      return;
    }
    loading = true;
    status.textContent = "Loading…";
    // The events URL may carry the review queue (?queue=), which the chunk's links keep.
    var url = new URL(transcript.dataset.eventsUrl, window.location.href);
    url.searchParams.set("offset", more.dataset.nextOffset);
    // Where the server may start replaying the slots: it then reads only from there.
    url.searchParams.set("from_reset", more.dataset.fromReset || "0");
    fetch(url.href, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the server answered " + response.status);
        }
        return response.json();
      })
      .then(function (chunk) {
        appendChunk(chunk);
        status.textContent = "";
        loading = false;
        if (more && observer) {
          // Still in view after a short chunk? Observing anew reports it again.
          observer.unobserve(more);
          observer.observe(more);
        }
      })
      .catch(function (error) {
        // No retry loop: the reader can click the link to try again.
        status.textContent = "Could not load more events (" + error.message + ").";
        loading = false;
      });
  }

  if (more) {
    more.addEventListener("click", function (event) {
      event.preventDefault();
      loadMore();
    });
    if ("IntersectionObserver" in window) {
      observer = new IntersectionObserver(function (entries) {
        if (entries.some(function (entry) { return entry.isIntersecting; })) {
          loadMore();
        }
      }, {rootMargin: "0px 0px 600px 0px"});
      observer.observe(more);
    }
  }

  // -- flagging in place ----------------------------------------------------------
  // A reviewer's "flag" link opens the flag's form in the event's row (the
  // page's <template>, with its CSRF token and the queue); it posts where
  // the flag page would.

  var flagTemplate = document.getElementById("flag-template");

  function openFlagForm(link) {
    var body = link.closest("tr.event").querySelector("td.body");
    var form = body.querySelector("form.flag-inline");
    if (!form) {
      form = flagTemplate.content.firstElementChild.cloneNode(true);
      form.action = link.href;
      form.querySelector("textarea").value = link.dataset.note || "";
      form.querySelector(".cancel-flag").addEventListener("click", function () {
        form.remove();
      });
      body.prepend(form);
    }
    form.querySelector("textarea").focus();
  }

  if (flagTemplate) {
    rows.addEventListener("click", function (event) {
      var link = event.target.closest("a.flag-event");
      if (link) {
        event.preventDefault();
        openFlagForm(link);
      }
    });
  }

  // -- marking entities by selecting text ------------------------------------------
  // A reviewer selects words in a user message: the row's entity form gets their
  // offsets, in the stored text's characters (code points, as Rasa and Python
  // count them). The shown text is the stored one as the HTML parser read it,
  // "\r\n" and "\r" made "\n", counted in UTF-16 units; the exact text comes
  // in the form's data-text, as JSON.

  function storedOffset(stored, shownLength) {
    var shown = 0, points = 0, i = 0;
    while (i < stored.length && shown < shownLength) {
      var unit = stored.charCodeAt(i);
      if (stored[i] === "\r" && stored[i + 1] === "\n") {
        shown += 1; i += 2; points += 2;
      } else if (unit >= 0xD800 && unit <= 0xDBFF && i + 1 < stored.length) {
        shown += 2; i += 2; points += 1;
      } else {
        shown += 1; i += 1; points += 1;
      }
    }
    return points;
  }

  function markSelection() {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) {
      return;
    }
    var range = selection.getRangeAt(0);
    var start = range.startContainer.parentElement && range.startContainer.parentElement.closest("p.text");
    var end = range.endContainer.parentElement && range.endContainer.parentElement.closest("p.text");
    var annotate = start && start === end && start.closest("tr.event").querySelector(".annotate[data-text]");
    if (!annotate) {
      return;
    }
    var stored = JSON.parse(annotate.dataset.text);
    var before = document.createRange();
    before.selectNodeContents(start);
    before.setEnd(range.startContainer, range.startOffset);
    var shownStart = before.toString().length;
    var characters = Array.from(stored);
    var from = storedOffset(stored, shownStart);
    var to = storedOffset(stored, shownStart + range.toString().length);
    while (from < to && /\s/.test(characters[from])) {
      from += 1;
    }
    while (to > from && /\s/.test(characters[to - 1])) {
      to -= 1;
    }
    if (from >= to) {
      return;
    }
    var form = annotate.querySelector("form.entity-form");
    form.elements.start.value = String(from);
    form.elements.end.value = String(to);
    var shown = form.querySelector(".selected-text");
    shown.querySelector("q").textContent = characters.slice(from, to).join("");
    shown.hidden = false;
    form.closest("details").open = true;
    form.elements.entity.focus();
  }

  rows.addEventListener("mouseup", function (event) {
    if (event.target.closest("p.text")) {
      markSelection();
    }
  });
  rows.addEventListener("keyup", function (event) {
    if (event.shiftKey) {
      markSelection();
    }
  });

  transcript.classList.add("enhanced");
  selectFromHash();
  window.addEventListener("hashchange", selectFromHash);
})();
