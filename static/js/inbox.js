// The NLU inbox, enhanced: the keyboard works through the groups (j/k move, a accept, c change the
// intent, x ignore). Without this file every group still has its Accept, Change intent and Ignore forms.
(function () {
  "use strict";

  var list = document.getElementById("inbox-groups");
  var help = document.getElementById("keyboard-help");
  if (!list || !help) {
    return;  // nothing to annotate, or a viewer: no controls to drive
  }
  var current = null;

  function groups() {
    return Array.from(list.querySelectorAll("li.inbox-group:not([hidden])"));
  }

  function focusGroup(group) {
    if (!group) {
      return;
    }
    if (current) {
      current.classList.remove("current");
    }
    current = group;
    group.classList.add("current");
    group.focus();
  }

  function move(step) {
    var all = groups();
    var at = all.indexOf(current);
    focusGroup(all[Math.min(all.length - 1, Math.max(0, at + step))]);
  }

  function submit(form) {
    if (form.requestSubmit) {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  list.addEventListener("focusin", function (event) {
    var group = event.target.closest("li.inbox-group");
    if (group && group !== current) {
      if (current) {
        current.classList.remove("current");
      }
      current = group;
      group.classList.add("current");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (typing) {
      if (event.key === "Escape" && current) {
        current.focus();  // back to the keys
      }
      return;
    }
    if (!current && "jkacx".indexOf(event.key) >= 0) {
      focusGroup(groups()[0]);
      if (event.key === "j" || event.key === "k") {
        event.preventDefault();
        return;
      }
    }
    if (!current) {
      return;
    }
    if (event.key === "j") {
      move(1);
    } else if (event.key === "k") {
      move(-1);
    } else if (event.key === "a") {
      var accept = current.querySelector("form.accept-group");
      if (accept) {
        submit(accept);
      }
    } else if (event.key === "c") {
      current.querySelector("form.change-group input[name=intent]").focus();
    } else if (event.key === "x") {
      submit(current.querySelector("form.ignore-group"));
    } else {
      return;
    }
    event.preventDefault();
  });

  help.hidden = false;
  focusGroup(groups()[0]);
})();
