// Searchable multi-selects: each <select multiple data-searchable> gets a filter box and a list of
// checkboxes, one per option. The <select> stays the form's field (hidden, kept in step), so the
// form submits what it always did, and without this script the plain <select multiple> still works.
// Keyboard: type to filter; Enter ticks the first match shown; ↓ moves into the list; Tab/Space as usual.
(function () {
  "use strict";

  let made = 0;

  function enhance(select) {
    made += 1;
    const id = `picker-${made}`;
    const label = document.querySelector(`label[for="${select.id}"]`);
    const name = label ? label.textContent.replace(/:$/, "").trim() : select.name;
    const picker = document.createElement("div");
    picker.className = "picker";
    const search = document.createElement("input");
    search.type = "search";
    search.className = "picker-search";
    search.id = `${id}-search`;
    search.placeholder = `Filter ${name.toLowerCase()}…`;
    search.autocomplete = "off";
    search.setAttribute("aria-label", `Filter the ${name.toLowerCase()} offered`);
    search.setAttribute("aria-controls", `${id}-list`);
    const count = document.createElement("small");
    count.className = "picker-count";
    count.setAttribute("aria-live", "polite");
    const list = document.createElement("div");
    list.className = "picker-list";
    list.id = `${id}-list`;
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", name);
    const none = document.createElement("p");
    none.className = "picker-none";
    none.textContent = "No name matches.";
    none.hidden = true;

    const items = [...select.options].map((option) => {
      const item = document.createElement("label");
      item.className = "picker-item";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = option.selected;
      box.addEventListener("change", () => {
        option.selected = box.checked;
        select.dispatchEvent(new Event("change", { bubbles: true }));
        showCount();
      });
      const text = document.createElement("span");
      text.textContent = option.value; // a stored name: text, never markup
      item.append(box, text);
      return { item, box, option, key: option.value.toLowerCase() };
    });
    list.append(...items.map((entry) => entry.item), none);

    function showCount() {
      const ticked = items.filter((entry) => entry.box.checked).length;
      count.textContent = ticked ? `${ticked} picked` : "";
    }

    function shown() {
      return items.filter((entry) => !entry.item.hidden);
    }

    search.addEventListener("input", () => {
      const wanted = search.value.trim().toLowerCase();
      for (const entry of items) {
        // Picked ones stay in view: what is in the filter is never hidden by a search.
        entry.item.hidden = wanted !== "" && !entry.key.includes(wanted) && !entry.box.checked;
      }
      none.hidden = shown().length > 0;
    });
    search.addEventListener("keydown", (event) => {
      const visible = shown();
      if (event.key === "Enter") {
        event.preventDefault(); // not the form's submit: Enter here picks
        const first = visible.find((entry) => !entry.box.checked && search.value.trim() !== "");
        if (first) {
          first.box.click();
        }
      } else if (event.key === "ArrowDown" && visible.length) {
        event.preventDefault();
        visible[0].box.focus();
      }
    });
    list.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
        return;
      }
      const boxes = shown().map((entry) => entry.box);
      const at = boxes.indexOf(document.activeElement);
      if (at < 0) {
        return;
      }
      event.preventDefault();
      const next = at + (event.key === "ArrowDown" ? 1 : -1);
      (next < 0 ? search : boxes[Math.min(next, boxes.length - 1)]).focus();
    });

    picker.append(search, count, list);
    select.after(picker);
    select.hidden = true;
    select.tabIndex = -1;
    if (label) {
      label.htmlFor = search.id; // the field's label now names the box one types in
    }
    const help = document.getElementById(`${select.id}_helptext`);
    if (help) {
      help.hidden = true; // "Ctrl-click" is about the plain select
    }
    showCount();
  }

  for (const select of document.querySelectorAll("select[multiple][data-searchable]")) {
    if (select.options.length === 0) {
      continue; // nothing to search (no tags yet, say)
    }
    enhance(select);
  }
})();
