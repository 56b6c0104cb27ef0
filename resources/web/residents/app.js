/* The residents' public-safety app: report (what, where, a text, a photo), follow my requests, read alerts.
   Reports wait in this page's storage until the hub has taken them (a bad connection loses nothing); each carries
   a reference chosen here, so a report sent twice is applied once. */
(function () {
  'use strict';

  var T = {
    en: {
      title: 'Report to the control room', call: 'Life in danger? Call 112 now.', lang: 'English',
      tabReport: 'Report', tabRequests: 'My requests', tabAlerts: 'Alerts',
      what: 'What is happening?', where: 'Where?', locate: 'Use my location', text: 'What do you see? (optional)',
      photo: 'Photo (optional)', send: 'Send report', pick: 'or tap the place on the map',
      at: 'Place: ', noPlace: 'No place yet', chooseWhat: 'Choose what is happening.',
      chooseWhere: 'Share your location or tap the place on the map.', sending: 'Sending...',
      sent: 'Report received by the control room. Follow it under "My requests".',
      queued: 'No connection: your report is saved and will be sent as soon as the connection is back.',
      locating: 'Finding your location...', noLocation: 'Your location is not available: tap the place on the map.',
      noRequests: 'You have sent no reports from this device.', noAlerts: 'No public alerts for your area.',
      received: 'Received', help_on_the_way: 'Help is on the way', closed: 'Closed', waiting: 'Waiting to send',
      until: 'until ', photoBad: 'This file could not be read as a photo.',
      notify: 'Notify me of alerts for this place', notifyOn: 'You will be notified of alerts for this place.',
      notifyOff: 'Notifications are not available in this browser.', notifyWhere: 'Share your location first (Report, Where?).',
      refused: { outside_jurisdiction: 'This place is outside the area this service covers: call 112.',
        not_an_image: 'The attached file is not a photo (JPEG, PNG or WebP).',
        photo_too_large: 'The photo is too large: choose a smaller one.',
        too_many_reports: 'You have sent several reports just now: this one will be sent in a minute. In an emergency, call 112.' },
      cat: { fire: 'Fire', medical: 'Medical', crime: 'Crime in progress', suspicious: 'Suspicious activity',
        hazard: 'Hazard', other: 'Other' }
    },
    de: {
      title: 'Meldung an die Leitstelle', call: 'Lebensgefahr? Rufen Sie sofort 112 an.', lang: 'Deutsch',
      tabReport: 'Melden', tabRequests: 'Meine Meldungen', tabAlerts: 'Warnungen',
      what: 'Was ist passiert?', where: 'Wo?', locate: 'Meinen Standort verwenden',
      text: 'Was sehen Sie? (freiwillig)', photo: 'Foto (freiwillig)', send: 'Meldung senden',
      pick: 'oder tippen Sie den Ort auf der Karte an', at: 'Ort: ', noPlace: 'Noch kein Ort',
      chooseWhat: 'Wählen Sie aus, was passiert ist.', chooseWhere: 'Teilen Sie Ihren Standort oder tippen Sie den Ort auf der Karte an.',
      sending: 'Wird gesendet...', sent: 'Die Leitstelle hat Ihre Meldung erhalten. Verfolgen Sie sie unter „Meine Meldungen“.',
      queued: 'Keine Verbindung: Ihre Meldung ist gespeichert und wird gesendet, sobald die Verbindung zurück ist.',
      locating: 'Standort wird bestimmt...', noLocation: 'Ihr Standort ist nicht verfügbar: Tippen Sie den Ort auf der Karte an.',
      noRequests: 'Sie haben von diesem Gerät noch nichts gemeldet.', noAlerts: 'Keine öffentlichen Warnungen für Ihre Gegend.',
      received: 'Eingegangen', help_on_the_way: 'Hilfe ist unterwegs', closed: 'Abgeschlossen', waiting: 'Wartet auf Versand',
      until: 'bis ', photoBad: 'Diese Datei ist kein lesbares Foto.',
      notify: 'Bei Warnungen für diesen Ort benachrichtigen', notifyOn: 'Sie werden bei Warnungen für diesen Ort benachrichtigt.',
      notifyOff: 'Benachrichtigungen sind in diesem Browser nicht verfügbar.', notifyWhere: 'Teilen Sie zuerst Ihren Standort (Melden, Wo?).',
      refused: { outside_jurisdiction: 'Dieser Ort liegt außerhalb des Gebiets dieses Dienstes: Rufen Sie 112 an.',
        not_an_image: 'Die angehängte Datei ist kein Foto (JPEG, PNG oder WebP).',
        photo_too_large: 'Das Foto ist zu groß: Wählen Sie ein kleineres.',
        too_many_reports: 'Sie haben gerade mehrere Meldungen gesendet: Diese wird in einer Minute gesendet. Im Notfall rufen Sie 112 an.' },
      cat: { fire: 'Brand', medical: 'Medizinischer Notfall', crime: 'Laufende Straftat', suspicious: 'Verdächtige Beobachtung',
        hazard: 'Gefahrenstelle', other: 'Anderes' }
    },
    fi: {
      title: 'Ilmoitus hätäkeskukseen', call: 'Henki vaarassa? Soita heti 112.', lang: 'Suomi',
      tabReport: 'Ilmoita', tabRequests: 'Ilmoitukseni', tabAlerts: 'Tiedotteet',
      what: 'Mitä tapahtuu?', where: 'Missä?', locate: 'Käytä sijaintiani', text: 'Mitä näet? (vapaaehtoinen)',
      photo: 'Kuva (vapaaehtoinen)', send: 'Lähetä ilmoitus', pick: 'tai napauta paikkaa kartalla',
      at: 'Paikka: ', noPlace: 'Ei vielä paikkaa', chooseWhat: 'Valitse, mitä tapahtuu.',
      chooseWhere: 'Jaa sijaintisi tai napauta paikkaa kartalla.', sending: 'Lähetetään...',
      sent: 'Hätäkeskus on vastaanottanut ilmoituksesi. Seuraa sitä kohdassa ”Ilmoitukseni”.',
      queued: 'Ei yhteyttä: ilmoituksesi on tallennettu ja lähetetään heti, kun yhteys palaa.',
      locating: 'Sijaintia haetaan...', noLocation: 'Sijaintisi ei ole saatavilla: napauta paikkaa kartalla.',
      noRequests: 'Et ole lähettänyt ilmoituksia tältä laitteelta.', noAlerts: 'Alueellesi ei ole julkisia tiedotteita.',
      received: 'Vastaanotettu', help_on_the_way: 'Apu on tulossa', closed: 'Päättynyt', waiting: 'Odottaa lähetystä',
      until: 'asti ', photoBad: 'Tätä tiedostoa ei voi lukea kuvana.',
      notify: 'Ilmoita tämän paikan tiedotteista', notifyOn: 'Saat ilmoituksen tämän paikan tiedotteista.',
      notifyOff: 'Ilmoitukset eivät ole käytettävissä tässä selaimessa.', notifyWhere: 'Jaa ensin sijaintisi (Ilmoita, Missä?).',
      refused: { outside_jurisdiction: 'Paikka on tämän palvelun alueen ulkopuolella: soita 112.',
        not_an_image: 'Liitetty tiedosto ei ole kuva (JPEG, PNG tai WebP).',
        photo_too_large: 'Kuva on liian suuri: valitse pienempi.',
        too_many_reports: 'Olet juuri lähettänyt useita ilmoituksia: tämä lähetetään minuutin kuluttua. Hätätilanteessa soita 112.' },
      cat: { fire: 'Tulipalo', medical: 'Sairauskohtaus tai vamma', crime: 'Käynnissä oleva rikos',
        suspicious: 'Epäilyttävää toimintaa', hazard: 'Vaaranpaikka', other: 'Muu' }
    }
  };
  var MAX_SIDE = 1600, POLL_MS = 10000, RETRY_MS = 15000;
  var cfg = null, lang = 'en', place = null, photo = null, map = null, marker = null;
  var $ = function (id) { return document.getElementById(id); };
  var store = {
    get: function (k, d) { try { var v = localStorage.getItem(k); return v === null ? d : JSON.parse(v); } catch (e) { return d; } },
    set: function (k, v) { localStorage.setItem(k, JSON.stringify(v)); }
  };
  function t(key) { return (T[lang] && T[lang][key]) || T.en[key]; }
  function newRef() {
    var a = new Uint8Array(12); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  /* A refusal in the page's language when it is one the page knows; else the hub's own words. */
  function refusal(answer) { return t('refused')[answer.error] || answer.message || answer.error; }
  function say(text, kind) {
    var m = $('message'); m.textContent = text; m.className = 'message ' + (kind || '');
    if (text) { m.scrollIntoView({ block: 'nearest' }); }
  }

  /* ---------- language ---------- */

  function languages() { return cfg && cfg.language !== 'en' && T[cfg.language] ? [cfg.language, 'en'] : ['en']; }
  function chooseLanguage() {
    var saved = store.get('lang', null), offered = languages(), browser = (navigator.language || 'en').slice(0, 2);
    lang = offered.indexOf(saved) >= 0 ? saved : offered.indexOf(browser) >= 0 ? browser : offered[0];
  }
  function render() {
    document.documentElement.lang = lang;
    $('title').textContent = t('title'); document.title = t('title'); $('call').textContent = t('call');
    var other = languages().filter(function (l) { return l !== lang; })[0];
    $('lang').hidden = !other; if (other) { $('lang').textContent = T[other].lang; $('lang').dataset.to = other; }
    $('tab-report').textContent = t('tabReport'); $('tab-requests').textContent = t('tabRequests');
    $('tab-alerts').textContent = t('tabAlerts'); $('what-label').textContent = t('what');
    $('where-label').textContent = t('where'); $('locate').textContent = t('locate');
    $('notify').textContent = t('notify');
    $('text-label').textContent = t('text'); $('photo-label').textContent = t('photo'); $('send').textContent = t('send');
    var box = $('categories'), checked = (document.querySelector('input[name=category]:checked') || {}).value;
    box.textContent = '';
    cfg.categories.forEach(function (code) {
      var label = document.createElement('label'), input = document.createElement('input'), span = document.createElement('span');
      input.type = 'radio'; input.name = 'category'; input.value = code; input.id = 'cat-' + code; input.checked = code === checked;
      span.textContent = t('cat')[code] || code; label.appendChild(input); label.appendChild(span); box.appendChild(label);
    });
    showPlace(); renderRequests(); renderAlerts(store.get('alerts', []));
  }

  /* ---------- where ---------- */

  function setPlace(lat, lon, how) {
    place = { lat: lat, lon: lon, how: how };
    if (map) {
      if (!marker) { marker = L.circleMarker([lat, lon], { radius: 10, color: '#fff', weight: 3, fillColor: '#b3261e', fillOpacity: 1 }).addTo(map); }
      marker.setLatLng([lat, lon]); map.setView([lat, lon], Math.max(map.getZoom(), 16));
    }
    showPlace(); loadAlerts();
  }
  function showPlace() {
    $('where').textContent = place ? t('at') + place.lat.toFixed(5) + ', ' + place.lon.toFixed(5) : t('noPlace') + ' - ' + t('pick');
  }
  function locate() {
    if (!navigator.geolocation) { say(t('noLocation'), 'error'); return; }
    say(t('locating'));
    navigator.geolocation.getCurrentPosition(function (pos) {
      say(''); setPlace(pos.coords.latitude, pos.coords.longitude, 'gps');
    }, function () { say(t('noLocation'), 'error'); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
  }
  function makeMap() {
    map = L.map('map', { zoomControl: true, attributionControl: true }).fitBounds(cfg.bounds);
    map.createPane('wfBase').style.zIndex = 200;  /* under the marker, as Leaflet's own tile pane */
    if (cfg.tiles) {
      new window.WfVectorTiles(cfg.tiles, function (layer, props) {
        if (layer === 'water') { return { fillColor: '#a8cfe8', fillOpacity: 1, stroke: false, color: '#a8cfe8', weight: 1 }; }
        if (layer === 'parks') { return { fillColor: '#cfe8c4', fillOpacity: 1, stroke: false, color: '#cfe8c4', weight: 0 }; }
        if (layer === 'buildings') { return { fillColor: '#d9d4cc', fillOpacity: 1, color: '#c6bfb5', weight: 0.5 }; }
        if (layer === 'rail') { return { color: '#9a9a9a', weight: 1.5, dashArray: '4 3', fill: false }; }
        var major = ['motorway', 'trunk', 'primary', 'secondary'].indexOf(props['class']) >= 0;
        return { color: major ? '#f2c46d' : '#ffffff', weight: major ? 4 : 2.5, fill: false, opacity: 1 };
      }).addTo(map);
    }
    map.attributionControl.setPrefix(false); map.attributionControl.addAttribution(cfg.attribution);
    map.on('click', function (e) { setPlace(e.latlng.lat, e.latlng.lng, 'map'); });
  }

  /* ---------- photo ---------- */

  function readPhoto(file) {
    photo = null;
    if (!file) { return Promise.resolve(); }
    /* Made smaller here (a bad connection, and the hub re-encodes it anyway); what the browser cannot draw is
       sent as it is, for the hub to judge and answer. */
    return createImageBitmap(file).then(function (bitmap) {
      var k = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height)), canvas = document.createElement('canvas');
      canvas.width = Math.round(bitmap.width * k); canvas.height = Math.round(bitmap.height * k);
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      photo = canvas.toDataURL('image/jpeg', 0.85);
    }).catch(function () {
      return new Promise(function (resolve) {
        var reader = new FileReader();
        reader.onload = function () { photo = reader.result; resolve(); };
        reader.onerror = function () { say(t('photoBad'), 'error'); resolve(); };
        reader.readAsDataURL(file);
      });
    });
  }

  /* ---------- sending, with the queue ---------- */

  function submit(event) {
    event.preventDefault();
    var category = (document.querySelector('input[name=category]:checked') || {}).value;
    if (!category) { say(t('chooseWhat'), 'error'); return; }
    if (!place) { say(t('chooseWhere'), 'error'); return; }
    var report = { ref: newRef(), category: category, lat: place.lat, lon: place.lon, text: $('text').value,
      sentAt: Date.now() };
    if (photo) { report.photo = photo; }
    var queue = store.get('queue', []); queue.push(report);
    try { store.set('queue', queue); } catch (e) { delete report.photo; queue[queue.length - 1] = report; store.set('queue', queue); }
    say(t('sending'));
    flush(true);
  }
  var flushing = false;
  function flush(fresh) {
    if (flushing) { return; }
    var queue = store.get('queue', []);
    if (!queue.length) { return; }
    flushing = true;
    var report = queue[0], body = { ref: report.ref, category: report.category, lat: report.lat, lon: report.lon,
      text: report.text, photo: report.photo, token: store.get('token', null) };
    fetch('/api/reports', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (response) {
        return response.json().then(function (answer) { return { ok: response.ok, status: response.status, answer: answer }; });
      }).then(function (r) {
        flushing = false;
        if (r.status === 429 || r.status === 503) {  /* try again later: the report stays queued */
          say(refusal(r.answer), 'error'); return;
        }
        store.set('queue', store.get('queue', []).filter(function (q) { return q.ref !== report.ref; }));
        if (!r.ok) { say(refusal(r.answer), 'error'); renderRequests(); flush(false); return; }
        if (r.answer.token) { store.set('token', r.answer.token); }
        var requests = store.get('requests', []);
        requests.unshift({ ref: report.ref, category: report.category, sentAt: report.sentAt, state: r.answer.state });
        store.set('requests', requests.slice(0, 50));
        say(t('sent'), 'ok'); $('form').reset(); photo = null; renderRequests(); flush(false);
      }).catch(function () {
        flushing = false;
        if (fresh) { say(t('queued'), 'queued'); }
        renderRequests();
      });
  }

  /* ---------- my requests ---------- */

  function renderRequests() {
    var list = $('request-list'), requests = store.get('requests', []), queue = store.get('queue', []);
    list.textContent = '';
    var rows = queue.map(function (q) { return { ref: q.ref, category: q.category, sentAt: q.sentAt, state: 'waiting' }; })
      .concat(requests);
    if (!rows.length) { var li = document.createElement('li'); li.className = 'empty'; li.textContent = t('noRequests'); list.appendChild(li); }
    rows.forEach(function (r) {
      var li = document.createElement('li'), what = document.createElement('div'), state = document.createElement('div');
      li.id = 'request-' + r.ref;
      what.textContent = (t('cat')[r.category] || r.category) + ' - ' + new Date(r.sentAt).toLocaleString(lang);
      state.className = 'state ' + r.state; state.textContent = t(r.state);
      li.appendChild(what); li.appendChild(state); list.appendChild(li);
    });
  }
  function poll() {
    var token = store.get('token', null);
    if (!token) { return; }
    store.get('requests', []).forEach(function (r) {
      if (r.state === 'closed') { return; }
      fetch('/api/reports/' + encodeURIComponent(r.ref), { headers: { Authorization: 'Bearer ' + token } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (!answer) { return; }
          var requests = store.get('requests', []);
          requests.forEach(function (q) { if (q.ref === r.ref) { q.state = answer.state; } });
          store.set('requests', requests); renderRequests();
        }).catch(function () { /* offline: the next poll */ });
    });
  }

  /* ---------- alerts ---------- */

  function loadAlerts() {
    var q = place ? '?lat=' + place.lat + '&lon=' + place.lon : '';
    fetch('/api/alerts' + q).then(function (r) { return r.json(); }).then(function (answer) {
      store.set('alerts', answer.alerts); renderAlerts(answer.alerts);
    }).catch(function () { /* offline: the last ones stay shown */ });
  }
  function renderAlerts(alerts) {
    var list = $('alert-list'); list.textContent = '';
    if (!alerts.length) { var li = document.createElement('li'); li.className = 'empty'; li.textContent = t('noAlerts'); list.appendChild(li); }
    alerts.forEach(function (a) {
      var li = document.createElement('li');
      [['severity', a.severity + ' - ' + a.event], ['headline', a.headline], ['description', a.description],
        ['instruction', a.instruction], ['areas', a.areas.join(', ')],
        ['expires', a.expires ? t('until') + new Date(a.expires * 1000).toLocaleString(lang) : '']].forEach(function (p) {
        if (!p[1]) { return; }
        var el = document.createElement(p[0] === 'headline' ? 'strong' : 'div');
        el.className = p[0]; el.textContent = p[1]; li.appendChild(el);
      });
      list.appendChild(li);
    });
  }

  /* ---------- Web Push ---------- */

  function b64url(text) {
    var raw = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }
  function notify() {
    if (!place) { $('notify-state').textContent = t('notifyWhere'); return; }
    if (!('PushManager' in window) || !navigator.serviceWorker) { $('notify-state').textContent = t('notifyOff'); return; }
    Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') { throw new Error('denied'); }
      return Promise.all([navigator.serviceWorker.ready, fetch('/api/push').then(function (r) { return r.json(); })]);
    }).then(function (got) {
      return got[0].pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64url(got[1].key) });
    }).then(function (subscription) {
      return fetch('/api/push', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ subscription: subscription.toJSON(), lat: place.lat, lon: place.lon }) });
    }).then(function (response) {
      $('notify-state').textContent = response.ok ? t('notifyOn') : t('notifyOff');
    }).catch(function () { $('notify-state').textContent = t('notifyOff'); });
  }

  /* ---------- start ---------- */

  function tab(name) {
    ['report', 'requests', 'alerts'].forEach(function (n) {
      $(n).hidden = n !== name; $('tab-' + n).classList.toggle('active', n === name);
    });
    if (name === 'report' && map) { map.invalidateSize(); }
    if (name === 'requests') { poll(); }
    if (name === 'alerts') { loadAlerts(); }
  }
  function start(config) {
    cfg = config; store.set('config', config); chooseLanguage(); render(); makeMap();
    document.querySelectorAll('.tab').forEach(function (b) { b.addEventListener('click', function () { tab(b.dataset.tab); }); });
    $('lang').addEventListener('click', function () { lang = $('lang').dataset.to; store.set('lang', lang); render(); });
    $('locate').addEventListener('click', locate);
    $('notify').addEventListener('click', notify);
    $('photo').addEventListener('change', function () { readPhoto($('photo').files[0]); });
    $('form').addEventListener('submit', function (e) {
      var file = $('photo').files[0];
      if (file && !photo) { e.preventDefault(); readPhoto(file).then(function () { submit(e); }); return; }
      submit(e);
    });
    window.addEventListener('online', function () { flush(false); });
    setInterval(function () { flush(false); }, RETRY_MS);
    setInterval(poll, POLL_MS);
    setInterval(loadAlerts, 60000);
    flush(false); poll(); loadAlerts();
  }
  if ('serviceWorker' in navigator) { navigator.serviceWorker.register('/sw.js').catch(function () { /* no offline app */ }); }
  fetch('/api/config').then(function (r) { return r.json(); }).then(start).catch(function () {
    var saved = store.get('config', null);
    if (saved) { start(saved); }
  });
})();
