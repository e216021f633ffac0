// Permanence web app: shows the push notifications of messages; a tap opens the app, or for an urgent
// message the acknowledgement page (one more tap). Network only: the app needs the live server.
self.addEventListener("install", (event) => { self.skipWaiting(); });
self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (event) => { event.respondWith(fetch(event.request)); });
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {title: event.data.text()}; }
  const options = {
    body: data.body || "",
    tag: data.tag || "permanence",
    data: {url: data.url || "/app/", ack: data.ack || ""},
    requireInteraction: Boolean(data.ack),
    icon: "{{ icon }}",
  };
  if (data.ack) { options.actions = [{action: "ack", title: "{{ ack_label|escapejs }}"}]; }
  event.waitUntil(self.registration.showNotification(data.title || "Permanence", options));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const target = data.ack || data.url || "/app/";
  event.waitUntil(self.clients.openWindow(target));
});
