/* The residents' app's service worker: keeps the app itself for a bad connection (the report queue lives in the
   page's storage and is sent when the hub answers again). API answers are never cached: they are about one
   resident's request, or alerts that must be current. */
'use strict';
var CACHE = 'wf-residents-1';
var APP = ['/', '/app.js', '/app.css', '/manifest.webmanifest', '/icon.svg', '/leaflet.js', '/leaflet.css',
  '/pbf.js', '/wf-tiles.js'];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(APP); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('fetch', function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.indexOf('/api/') === 0 ||
      url.pathname.indexOf('/photos/') === 0) {
    return;  /* the network, as if there were no worker */
  }
  /* The app and map tiles: the network first (updates), the cache when it fails. */
  event.respondWith(fetch(event.request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(event.request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(event.request).then(function (hit) { return hit || Response.error(); });
  }));
});

/* Web Push: a public alert for the area this browser subscribed for (app/hub/resident_push.py). */
self.addEventListener('push', function (event) {
  var alert = {};
  try { alert = event.data ? event.data.json() : {}; } catch (e) { alert = { title: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(alert.title || 'Alert', {
    body: alert.body || '', tag: alert.id || 'alert', icon: '/icon.svg', data: { url: '/#alerts' }
  }));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  event.waitUntil(self.clients.openWindow('/#alerts'));
});
