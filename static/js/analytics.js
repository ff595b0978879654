// The funnel builder works as a plain form; this only offers the names of the kind of step chosen.
(function () {
  "use strict";
  const kind = document.getElementById("add-kind");
  const name = document.getElementById("add-name");
  if (!kind || !name) {
    return;
  }
  const offer = () => name.setAttribute("list", `names-${kind.value}`);
  kind.addEventListener("change", offer);
  offer();
})();
