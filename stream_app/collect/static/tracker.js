/*! stream-app tracker: web events for the collector's /v1/web. No dependencies, no cookies.
 *
 * <script src="https://collector.example/tracker.js" data-endpoint="https://collector.example/v1/web"
 *         data-visitor-id="(optional: your own id)" data-respect-dnt async></script>
 *
 * Sends page_viewed (load, history.pushState, popstate, back-forward cache), page_left once per
 * page view (hidden, closed or navigated away in the app) with engaged_ms (visible and focused)
 * and max_scroll_pct, link_shown (once per page view, IntersectionObserver) and link_clicked
 * for elements marked data-cs-link="name", and csTrack.survey(survey, answer).
 * The visitor id is a random UUID kept in first-party localStorage ("cs_vid"), unless
 * data-visitor-id is given. Paths are location.pathname (no query string, no hash).
 * With data-respect-dnt, nothing is sent when Do Not Track or Global Privacy Control is on.
 * Events go out in batches (JSON arrays) by navigator.sendBeacon, else fetch(keepalive).
 *
 * Short names keep it under 3 KB minified (tests/test_tracker.py measures it):
 * N navigator, E endpoint, A selector of marked links, V visitor id, Q queue, T timer,
 * P path, G left already, M engaged ms, S engaged since, D deepest scroll %, K links seen,
 * R referrer of the next page view, O IntersectionObserver; fl flushes the queue, sc
 * measures the scroll depth, wt watches marked links, mv notices an in-app navigation.
 */
(function (w, d) {
  var s = d.currentScript, N = w.navigator, A = "[data-cs-link]";
  var E = s && (s.getAttribute("data-endpoint") || s.src.replace(/[^/]*$/, "v1/web"));
  var dnt = N.doNotTrack == "1" || N.globalPrivacyControl;
  function on(t, e, f, o) { t.addEventListener(e, f, o); }
  function each(l, f) { [].forEach.call(l, f); }
  if (!E || (s.hasAttribute("data-respect-dnt") && dnt)) {
    w.csTrack = { survey: function () {} };
    return;
  }

  // a random (v4) UUID
  function id() {
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  // RFC 3339 with the local offset, e.g. 2026-11-28T10:15:00.123+01:00
  function now() {
    var t = new Date(), o = -t.getTimezoneOffset(), a = Math.abs(o);
    function p(n) { return ("0" + n).slice(-2); }
    return new Date(+t + o * 6e4).toISOString().slice(0, 23) + (o < 0 ? "-" : "+") + p((a / 60) | 0) + ":" + p(a % 60);
  }

  var V = s.getAttribute("data-visitor-id");
  if (!V) {
    try {
      V = localStorage.getItem("cs_vid") || id();
      localStorage.setItem("cs_vid", V);
    } catch (e) {
      V = id(); // storage blocked: an id for this page only
    }
  }

  var Q = [], T = 0;
  function fl() {
    clearTimeout(T);
    T = 0;
    if (!Q.length) return;
    var b = JSON.stringify(Q);
    Q = [];
    if (!(N.sendBeacon && N.sendBeacon(E, b))) {
      try {
        fetch(E, { method: "POST", body: b, keepalive: true, credentials: "omit" }); // text/plain
      } catch (e) {}
    }
  }
  // queue an event; urgent ones (and those queued with them) go at once
  function send(type, f, urgent) {
    f.event_id = id();
    f.type = type;
    f.ts = now();
    f.visitor_id = V;
    Q.push(f);
    if (urgent) fl();
    else T = T || setTimeout(fl, 1000);
  }

  // the current page view
  var P, G, M, S, D, K, R = d.referrer;
  function start() {
    if (S == null && !d.hidden && d.hasFocus()) S = Date.now();
  }
  function stop() {
    if (S != null) M += Date.now() - S;
    S = null;
  }
  function sc() {
    var h = d.documentElement.scrollHeight;
    D = Math.max(D, h ? Math.min(100, Math.round(((w.scrollY + w.innerHeight) / h) * 100)) : 100);
  }
  function leave() {
    if (G) return;
    G = 1;
    stop();
    sc();
    send("page_left", { path: P, engaged_ms: Math.min(M, 864e5), max_scroll_pct: D }, 1);
  }

  var O = new IntersectionObserver(function (l) {
    each(l, function (e) {
      var n = e.target.dataset.csLink.slice(0, 64);
      if (e.isIntersecting && n && !K[n]) {
        K[n] = 1;
        send("link_shown", { link: n });
      }
    });
  });
  function wt(r) {
    if (r.querySelectorAll) {
      if (r.matches(A)) O.observe(r);
      each(r.querySelectorAll(A), function (e) { O.observe(e); });
    }
  }

  function view() {
    P = location.pathname.slice(0, 512);
    G = M = D = 0;
    S = null;
    K = {};
    var f = { path: P };
    if (R) f.referrer = R.slice(0, 2048);
    R = location.origin + P;
    send("page_viewed", f);
    start(); // the scroll depth is measured on scroll and when the page is left
    O.disconnect(); // observe afresh: each page view has its own impressions
    wt(d.documentElement);
  }
  function mv() {
    if (location.pathname.slice(0, 512) != P) {
      leave();
      view();
    }
  }

  var push = history.pushState;
  history.pushState = function () {
    var r = push.apply(this, arguments);
    mv();
    return r;
  };
  on(w, "popstate", mv);
  on(w, "pageshow", function (e) { e.persisted && view(); });
  on(w, "pagehide", leave);
  on(w, "focus", start);
  on(w, "blur", stop);
  on(w, "scroll", sc, { passive: 1 });
  on(d, "visibilitychange", function () { d.hidden ? leave() : start(); });
  on(d, "click", function (e) {
    var l = e.target.closest(A);
    if (l) send("link_clicked", { link: l.dataset.csLink.slice(0, 64) }, 1);
  }, true);
  new MutationObserver(function (l) {
    each(l, function (m) { each(m.addedNodes, wt); });
  }).observe(d.documentElement, { childList: 1, subtree: 1 });

  w.csTrack = {
    survey: function (survey, answer) {
      send("visit_survey_answered", { survey: survey, answer: String(answer).slice(0, 64) }, 1);
    },
    visitor: V
  };
  view();
})(window, document);
