// The conversation list page: charts of the current filter (fetched only once unfolded), short URLs
// from the filter form, folded panels remembered, and ticking rows for the bulk actions (a box for
// the whole page, a count).
// Only an enhancement: without it the form still filters, the table still lists and the bulk form still posts.
(function () {
  "use strict";

  const DAY = 86400;
  const MAX_FILLED_POINTS = 5000;
  const LABEL_CHARACTERS = 20;
  const PALETTE = ["#3b6fd8", "#e07a1f", "#4c8c6a", "#b4436c", "#7a5cc4", "#c9a227", "#2b9bb0", "#8a8f98"];

  // Only the filters in use go into the URL: links stay short enough to share.
  function dropEmptyParameters(form) {
    form.addEventListener("formdata", (event) => {
      for (const name of new Set(event.formData.keys())) {
        if (event.formData.getAll(name).every((value) => value === "")) {
          event.formData.delete(name);
        }
      }
    });
  }

  function bucketLabel(start, bucket) {
    const iso = new Date(start * 1000).toISOString(); // UTC, as the store counts
    return bucket === "hour" ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
  }

  // The store lists only buckets that have events; a quiet hour or day is a zero, not a gap
  // nobody sees. Hours fill whole UTC days, so even one busy hour shows its day around it.
  function withQuietBuckets(points, size) {
    if (points.length === 0) {
      return points;
    }
    let first = points[0].start;
    let last = points[points.length - 1].start;
    if (size < DAY) {
      first -= first % DAY;
      last += DAY - size - (last % DAY);
    }
    if ((last - first) / size > MAX_FILLED_POINTS) {
      return points;
    }
    const byStart = new Map(points.map((point) => [point.start, point]));
    const filled = [];
    for (let start = first; start <= last; start += size) {
      filled.push(byStart.get(start) || { start, events: 0, user_messages: 0 });
    }
    return filled;
  }

  function counted(number, noun) {
    return `${number.toLocaleString("en")} ${noun}${number === 1 ? "" : "s"}`;
  }

  function shortened(label) {
    return label.length > LABEL_CHARACTERS ? `${label.slice(0, LABEL_CHARACTERS - 1)}…` : label;
  }

  function fillNumbers(figure, rows) {
    const body = figure.querySelector(".chart-numbers tbody");
    body.replaceChildren(...rows.map((cells) => {
      const row = document.createElement("tr");
      for (const value of cells) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        row.append(cell);
      }
      return row;
    }));
  }

  function overTimeChart(figure, stats) {
    const points = withQuietBuckets(stats.events_over_time, stats.bucket_seconds);
    figure.querySelector(".bucket").textContent = stats.bucket;
    fillNumbers(figure, stats.events_over_time.map((p) => [bucketLabel(p.start, stats.bucket), p.events,
      p.user_messages]));
    return new Chart(figure.querySelector("canvas"), {
      type: "bar",
      data: {
        labels: points.map((p) => bucketLabel(p.start, stats.bucket)),
        datasets: [
          { label: "Events", data: points.map((p) => p.events), backgroundColor: PALETTE[0] },
          { label: "User messages", data: points.map((p) => p.user_messages), backgroundColor: PALETTE[1] },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 } },
          x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        },
      },
    });
  }

  function rankingChart(figure, items, label, color) {
    fillNumbers(figure, items.map((item) => [item.name, item.count]));
    return new Chart(figure.querySelector("canvas"), {
      type: "bar",
      data: {
        labels: items.map((item) => item.name),
        datasets: [{ label, data: items.map((item) => item.count), backgroundColor: color, maxBarThickness: 24 }],
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false } },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 } },
          y: { ticks: { autoSkip: false, callback(value) { return shortened(this.getLabelForValue(value)); } } },
        },
      },
    });
  }

  function channelChart(figure, items) {
    fillNumbers(figure, items.map((item) => [item.channel, item.count]));
    return new Chart(figure.querySelector("canvas"), {
      type: "doughnut",
      data: {
        labels: items.map((item) => item.channel),
        datasets: [{ label: "Conversations", data: items.map((item) => item.count),
          backgroundColor: items.map((_, index) => PALETTE[index % PALETTE.length]) }],
      },
      options: { plugins: { legend: { position: "right" } } },
    });
  }

  function drawCharts(section, stats) {
    const figure = (name) => section.querySelector(`[data-chart="${name}"]`);
    const status = section.querySelector(".charts-status");
    status.textContent = `${counted(stats.events, "event")} in ${counted(stats.conversations, "conversation")}`;
    if (stats.events === 0) {
      section.querySelector(".chart-grid").hidden = true;
      return null;
    }
    rankingChart(figure("intents"), stats.top_intents, "User messages", PALETTE[0]);
    rankingChart(figure("actions"), stats.top_actions, "Runs", PALETTE[2]);
    channelChart(figure("channels"), stats.conversations_per_channel);
    return overTimeChart(figure("over-time"), stats);
  }

  // The server charts by the hour when the filter's range is short; when a
  // longer (or no) range holds only a few days of events, days are too coarse too.
  function tooFewDays(stats) {
    const points = stats.events_over_time;
    return stats.bucket === "day" && points.length > 0 && points[points.length - 1].start - points[0].start < 3 * DAY;
  }

  async function fetchStatistics(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) {
      throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    }
    return body;
  }

  // action_listen and action_session_start run in every conversation: out of the top actions unless ticked.
  function statsUrl(section) {
    const url = new URL(section.dataset.statsUrl, window.location.href);
    const routine = document.getElementById("show-routine-actions");
    if (routine && routine.checked) {
      url.searchParams.set("all_actions", "true");
    }
    return url;
  }

  function setUpRoutineToggle(section) {
    const routine = document.getElementById("show-routine-actions");
    routine.addEventListener("change", async () => {
      const figure = section.querySelector('[data-chart="actions"]');
      const stats = await fetchStatistics(statsUrl(section));
      const drawn = Chart.getChart(figure.querySelector("canvas"));
      if (drawn) {
        drawn.destroy();
      }
      rankingChart(figure, stats.top_actions, "Runs", PALETTE[2]);
    });
  }

  async function loadCharts(section) {
    const status = section.querySelector(".charts-status");
    const url = statsUrl(section);
    section.setAttribute("aria-busy", "true");
    status.textContent = "loading…";
    try {
      const stats = await fetchStatistics(url);
      const overTime = drawCharts(section, stats);
      if (overTime && !url.searchParams.has("bucket") && tooFewDays(stats)) {
        url.searchParams.set("bucket", "hour");
        const hourly = await fetchStatistics(url);
        overTime.destroy();
        overTimeChart(section.querySelector('[data-chart="over-time"]'), hourly);
      }
    } catch (error) {
      section.querySelector(".chart-grid").hidden = true;
      status.textContent = `The charts could not be loaded: ${error.message}`;
      status.classList.add("error");
    } finally {
      section.setAttribute("aria-busy", "false");
    }
  }

  function setUpCharts() {
    // The page is server-rendered and charts are small: animating them only delays reading.
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#1d2430";
  }

  // Ticking a row means the action is for the ticked rows; the page's box ticks them all.
  function setUpTicking() {
    const boxes = [...document.querySelectorAll("input.select-row")];
    const pageBox = document.getElementById("select-page");
    const count = document.getElementById("selected-count");
    const scopeSelected = document.getElementById("scope-selected");
    const update = () => {
      const ticked = boxes.filter((box) => box.checked).length;
      count.textContent = ticked ? ` (${ticked})` : "";
      pageBox.checked = ticked === boxes.length && ticked > 0;
      pageBox.indeterminate = ticked > 0 && ticked < boxes.length;
    };
    for (const box of boxes) {
      box.addEventListener("change", () => {
        if (box.checked) {
          scopeSelected.checked = true;
        }
        update();
      });
    }
    pageBox.hidden = false;
    pageBox.addEventListener("change", () => {
      for (const box of boxes) {
        box.checked = pageBox.checked;
      }
      if (pageBox.checked) {
        scopeSelected.checked = true;
      }
      update();
    });
    update();
  }

  // A bulk action on thousands of conversations takes seconds: say what is being done, and send it once.
  function setUpBulkStatus() {
    const bulk = document.getElementById("bulk");
    const status = document.getElementById("bulk-status");
    let sent = false;
    bulk.addEventListener("submit", (event) => {
      if (sent) {
        event.preventDefault();
        return;
      }
      sent = true;
      const all = document.getElementById("scope-all").checked;
      const count = all ? Number(status.dataset.total)
        : document.querySelectorAll("input.select-row:checked").length;
      const action = event.submitter ? event.submitter.textContent.replace("…", "").trim() : "Working";
      status.textContent = `${action}: ${count} conversation${count === 1 ? "" : "s"}, please wait…`;
      bulk.setAttribute("aria-busy", "true");
    });
  }

  const form = document.getElementById("filters");
  if (form) {
    dropEmptyParameters(form);
  }
  if (document.getElementById("bulk")) {
    setUpTicking();
    setUpBulkStatus();
  }
  // A panel unfolded stays unfolded on the next list (this browser only); one with an error is open anyway.
  function rememberFolding(panel) {
    const key = `trackerweb.list.${panel.dataset.remember}.open`;
    try {
      if (!panel.open && window.localStorage.getItem(key) === "1") {
        panel.open = true;
      }
      panel.addEventListener("toggle", () => window.localStorage.setItem(key, panel.open ? "1" : "0"));
    } catch (error) {
      // Storage refused (private mode, a policy): panels simply start folded.
    }
  }

  // Statistics are slow on a big store: asked for once, when someone unfolds the charts.
  function chartsWhenUnfolded(panel, section) {
    let loaded = false;
    const load = () => {
      if (panel.open && !loaded && window.Chart) {
        loaded = true;
        setUpCharts();
        setUpRoutineToggle(section);
        loadCharts(section);
      }
    };
    panel.addEventListener("toggle", load);
    window.addEventListener("load", load); // Chart.js (deferred) is there by now
    load();
  }

  const section = document.getElementById("charts");
  const chartsPanel = document.getElementById("charts-panel");
  if (section && chartsPanel) {
    chartsWhenUnfolded(chartsPanel, section);
  }
  for (const panel of document.querySelectorAll("details[data-remember]")) {
    rememberFolding(panel);
  }
})();
