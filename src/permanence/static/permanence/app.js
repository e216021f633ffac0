// The web app: registers the service worker (which shows the push notifications) and subscribes this
// browser to Web Push for the signed-in user, or unsubscribes it.
(function () {
  const script = document.currentScript;
  const cfg = script.dataset;
  const word = document.getElementById("push-word");
  const on = document.getElementById("push-on");
  const off = document.getElementById("push-off");
  const error = document.getElementById("push-error");
  function key(text) {
    const padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                       headers: {"Content-Type": "application/json", "X-CSRFToken": cfg.csrf}});
  }
  function show(subscription) {
    word.textContent = subscription ? cfg.on : cfg.off;
    on.hidden = Boolean(subscription);
    off.hidden = !subscription;
  }
  function fail(e) { error.hidden = false; error.textContent = String(e && e.message || e); }
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) { word.textContent = cfg.unsupported; return; }
  navigator.serviceWorker.register(cfg.worker, {scope: "/app/"}).then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      window.permanenceWorker = registration;
      registration.pushManager.getSubscription().then(show);
      on.addEventListener("click", () => {
        Notification.requestPermission().then((permission) => {
          if (permission !== "granted") { throw new Error(permission); }
          return registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key(cfg.key)});
        }).then((subscription) => post(cfg.subscribe, subscription.toJSON()).then(() => show(subscription)))
          .catch(fail);
      });
      off.addEventListener("click", () => {
        registration.pushManager.getSubscription().then((subscription) => {
          if (!subscription) { show(null); return; }
          return post(cfg.unsubscribe, {endpoint: subscription.endpoint})
            .then(() => subscription.unsubscribe()).then(() => show(null));
        }).catch(fail);
      });
    }).catch(fail);
})();
