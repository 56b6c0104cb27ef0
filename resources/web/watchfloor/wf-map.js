/*
 * Watchfloor map page: the common operating picture drawn with Leaflet.
 *
 * Python drives this page through one QWebChannel object ("wfBridge"): it pushes batches of changes as a
 * single JSON string (bridge.batch) and this page reports clicks, menu picks, measurements and per-batch
 * timings back through the bridge's slots. Live points (units, incidents, drones) and basemap labels are
 * drawn by our own canvas layers, one canvas per layer kind, because thousands of moving markers are far
 * cheaper to paint in one pass than as thousands of Leaflet layers.
 */
(function () {
  'use strict';

  var THEMES = {
    dark: {
      background: '#0a0d12', water: '#0f2536', waterStroke: '#16344b', park: '#10201a', building: '#1a1f27',
      buildingStroke: '#262c36', rail: '#545a66', roadDefault: '#3a3f48',
      roads: {
        motorway: '#a8702c', trunk: '#9a6a30', primary: '#877a5e', secondary: '#6a6e77', tertiary: '#585d66',
        residential: '#40454e', unclassified: '#40454e', living_street: '#3b4048', service: '#31353d',
        pedestrian: '#353a42', footway: '#30343b', path: '#30343b', cycleway: '#2f3a3b', steps: '#30343b'
      },
      label: { street: '#8e97a3', place: '#dfe5ec', poi: '#8a98a6', water: '#5d8fb5', park: '#6e9c76' },
      halo: 'rgba(10,13,18,0.95)', text: '#e8eef5', tick: '#e8eef5', casing: '#0a0d12', selection: '#00e5ff',
      measure: '#00e5ff'
    },
    light: {
      background: '#ece8e1', water: '#a9cfe0', waterStroke: '#8dbbd0', park: '#c9e3bf', building: '#d8cfc7',
      buildingStroke: '#c2b6ab', rail: '#8a8a8a', roadDefault: '#ffffff',
      roads: {
        motorway: '#e4899b', trunk: '#f0a58c', primary: '#f6cc8f', secondary: '#f4f2b8', tertiary: '#ffffff',
        residential: '#ffffff', unclassified: '#ffffff', living_street: '#f7f7f7', service: '#fafafa',
        pedestrian: '#f2eeea', footway: '#d98b7e', path: '#b59a7a', cycleway: '#7a8fd9', steps: '#d98b7e'
      },
      label: { street: '#4a4a4a', place: '#111111', poi: '#5a4a3a', water: '#2f6d92', park: '#2f6b35' },
      halo: 'rgba(255,255,255,0.92)', text: '#111111', tick: '#111111', casing: '#ffffff', selection: '#0077ff',
      measure: '#0055cc'
    }
  };

  var ROAD_WIDTH = {
    motorway: 4.2, trunk: 3.8, primary: 3.4, secondary: 2.8, tertiary: 2.3, residential: 1.7,
    unclassified: 1.7, living_street: 1.5, service: 1.0, pedestrian: 1.3, footway: 0.8, path: 0.8,
    cycleway: 0.8, steps: 0.8
  };
  var MINOR_ROADS = { service: 1, footway: 1, path: 1, cycleway: 1, steps: 1, pedestrian: 1, track: 1 };
  var FOOT_ROADS = { footway: 1, path: 1, cycleway: 1, steps: 1 };

  var STATUS_COLOUR = {
    available: '#2bd47d', in_quarters: '#1f9d5c', dispatched: '#ffb02e', assigned: '#ffb02e',
    en_route: '#ffd43b', enroute: '#ffd43b', responding: '#ffd43b', on_scene: '#ff4d4f', at_scene: '#ff4d4f',
    transporting: '#b37feb', at_hospital: '#69b1ff', busy: '#ff8c42', returning: '#7ee0a8',
    out_of_service: '#6b7280', offline: '#6b7280'
  };
  var AGENCY_COLOUR = {
    fire: '#ff453a', police: '#3d8bfd', medical: '#30d5c8', ems: '#30d5c8', ambulance: '#30d5c8',
    rescue: '#ff9f0a', coastguard: '#ffd60a'
  };
  var PRIORITY_COLOUR = { 1: '#ff2d2d', 2: '#ff8a1f', 3: '#ffd21f', 4: '#4fc3f7', 5: '#9aa0a6' };
  var SEVERITY_COLOUR = { extreme: '#ff1744', severe: '#ff6d00', moderate: '#ffc400', minor: '#00b0ff' };
  var ZONE_COLOUR = {
    cordon: '#ff5252', exclusion: '#ff5252', hazard: '#ff5252', staging: '#69f0ae', sector: '#448aff',
    command: '#ffd740', evacuation: '#ffab40'
  };
  var INCIDENT_SHAPE = { fire: 'triangle', medical: 'circle', ems: 'circle', police: 'diamond', crime: 'diamond' };
  var INCIDENT_GLYPH = {
    fire: 'F', medical: 'M', ems: 'M', police: 'P', crime: 'P', traffic: 'T', accident: 'T', hazmat: 'H',
    rescue: 'R', water: 'W', alarm: 'A', search: 'S'
  };

  var wf = window.wf = {};
  var map = null;
  var bridge = null;
  var theme = THEMES.dark;
  var themeName = 'dark';
  var basemap = { layers: {}, labels: null, info: null };
  var tiles = null;
  var selection = { kind: null, id: null };
  /* Items a drone's camera sees now ("incident:1042", "unit:E1"): ringed so the picture and the map agree. */
  var inView = new Set();
  var areas = { zones: null, alerts: null, footprints: null, tracks: null, looks: null, cameras: null };
  var areaItems = { zone: [], alert: [] };
  var heat = null;
  var stats = { batches: 0, applyMsTotal: 0, applyMsMax: 0, drawMsTotal: 0, draws: 0, drawMsMax: 0 };

  function norm(s) { return String(s == null ? '' : s).toLowerCase().replace(/[\s-]+/g, '_'); }
  function post(method) {
    var args = Array.prototype.slice.call(arguments, 1);
    if (bridge && bridge[method]) { bridge[method].apply(bridge, args); }
  }

  /* ---------- a canvas layer that paints many point items in one pass ---------- */

  var PointCanvas = L.Layer.extend({
    initialize: function (name, pane, paint, hitRadius) {
      this.name = name;
      this.items = new Map();
      this._paneName = pane;
      this._paint = paint;
      this._hitRadius = hitRadius || 10;
      this._screen = [];
      this._frame = null;
      this._animated = false;
    },
    onAdd: function (m) {
      this._map = m;
      var c = this._canvas = L.DomUtil.create('canvas', 'wf-canvas leaflet-zoom-animated');
      m.getPane(this._paneName).appendChild(c);
      m.on('moveend resize', this._reset, this);
      m.on('zoomanim', this._animateZoom, this);
      this._reset();
    },
    onRemove: function (m) {
      L.DomUtil.remove(this._canvas);
      m.off('moveend resize', this._reset, this);
      m.off('zoomanim', this._animateZoom, this);
    },
    _reset: function () {
      var m = this._map;
      this._topLeft = m.containerPointToLayerPoint([0, 0]);
      L.DomUtil.setPosition(this._canvas, this._topLeft);
      var size = m.getSize(), dpr = window.devicePixelRatio || 1;
      if (this._w !== size.x || this._h !== size.y || this._dpr !== dpr) {
        this._w = size.x; this._h = size.y; this._dpr = dpr;
        this._canvas.width = Math.round(size.x * dpr);
        this._canvas.height = Math.round(size.y * dpr);
        this._canvas.style.width = size.x + 'px';
        this._canvas.style.height = size.y + 'px';
      }
      this._draw();
    },
    _animateZoom: function (e) {
      var m = this._map, scale = m.getZoomScale(e.zoom);
      var offset = m._getCenterOffset(e.center)._multiplyBy(-scale).subtract(m._getMapPanePos());
      L.DomUtil.setTransform(this._canvas, offset, scale);
    },
    redraw: function () {
      if (!this._map || this._frame) { return; }
      this._frame = L.Util.requestAnimFrame(this._draw, this);
    },
    setAnimated: function (on) {
      this._animated = on;
      if (on) { this.redraw(); }
    },
    /* Layer-point of a lat/lng relative to this canvas, valid between resets. */
    toPoint: function (lat, lon) {
      var p = this._map.latLngToLayerPoint([lat, lon]);
      return [p.x - this._topLeft.x, p.y - this._topLeft.y];
    },
    visible: function (p, margin) {
      return p[0] > -margin && p[1] > -margin && p[0] < this._w + margin && p[1] < this._h + margin;
    },
    _draw: function () {
      this._frame = null;
      if (!this._map || this._map._animatingZoom) { return; }
      var t0 = performance.now();
      var ctx = this._canvas.getContext('2d');
      ctx.setTransform(this._dpr, 0, 0, this._dpr, 0, 0);
      ctx.clearRect(0, 0, this._w, this._h);
      this._screen = [];
      this._paint(ctx, this);
      var dt = performance.now() - t0;
      stats.draws += 1; stats.drawMsTotal += dt; stats.drawMsMax = Math.max(stats.drawMsMax, dt);
      if (this._animated) { this.redraw(); }
    },
    remember: function (p, id) { this._screen.push(p[0], p[1], id); },
    /* The id of the item painted nearest to a container point, within the hit radius. */
    hit: function (cp) {
      var lp = this._map.containerPointToLayerPoint(cp);
      var x = lp.x - this._topLeft.x, y = lp.y - this._topLeft.y;
      var best = null, bestD = this._hitRadius * this._hitRadius, s = this._screen;
      for (var i = 0; i < s.length; i += 3) {
        var dx = s[i] - x, dy = s[i + 1] - y, d = dx * dx + dy * dy;
        if (d <= bestD) { bestD = d; best = s[i + 2]; }
      }
      return best;
    }
  });

  /* Screen boxes already taken by labels, in a coarse grid so thousands of labels stay cheap to place. */
  function Boxes() { this.cells = new Map(); }
  Boxes.prototype.claim = function (x0, y0, x1, y1) {
    var keys = [], i, j, k, list;
    for (i = Math.floor(x0 / 64); i <= Math.floor(x1 / 64); i++) {
      for (j = Math.floor(y0 / 64); j <= Math.floor(y1 / 64); j++) {
        k = i * 100003 + j; keys.push(k); list = this.cells.get(k);
        if (list) {
          for (var n = 0; n < list.length; n++) {
            var b = list[n];
            if (x0 < b[2] && x1 > b[0] && y0 < b[3] && y1 > b[1]) { return false; }
          }
        }
      }
    }
    var box = [x0, y0, x1, y1], self = this;
    keys.forEach(function (key) {
      if (!self.cells.has(key)) { self.cells.set(key, []); }
      self.cells.get(key).push(box);
    });
    return true;
  };

  /* measureText is a large share of painting thousands of callsigns; a callsign's width never changes. */
  var widths = new Map();
  function textWidth(ctx, text) {
    var key = ctx.font + '|' + text, w = widths.get(key);
    if (w === undefined) {
      if (widths.size > 20000) { widths.clear(); }
      w = ctx.measureText(text).width;
      widths.set(key, w);
    }
    return w;
  }

  function haloText(ctx, text, x, y) {
    ctx.strokeText(text, x, y);
    ctx.fillText(text, x, y);
  }

  /* ---------- painters ---------- */

  function paintUnits(ctx, layer) {
    var z = layer._map.getZoom();
    var r = z >= 16 ? 6 : z >= 14 ? 5 : z >= 12 ? 4 : 3;
    var rings = {}, fills = {}, ticks = new Path2D(), labelled = [];
    var selected = selection.kind === 'unit' ? selection.id : null, selPoint = null, seen = [];
    layer.items.forEach(function (u, id) {
      if (u.lat == null || u.lon == null) { return; }
      var p = layer.toPoint(u.lat, u.lon);
      if (!layer.visible(p, 20)) { return; }
      layer.remember(p, id);
      var ring = AGENCY_COLOUR[norm(u.agency)] || '#b0b0b0';
      var fill = STATUS_COLOUR[norm(u.status)] || '#9ca3af';
      (rings[ring] = rings[ring] || new Path2D()).moveTo(p[0] + r + 2, p[1]);
      rings[ring].arc(p[0], p[1], r + 2, 0, 6.2832);
      (fills[fill] = fills[fill] || new Path2D()).moveTo(p[0] + r, p[1]);
      fills[fill].arc(p[0], p[1], r, 0, 6.2832);
      if (u.heading != null && !(u.speed != null && u.speed < 0.5)) {
        var a = (u.heading - 90) * Math.PI / 180, c = Math.cos(a), s = Math.sin(a);
        ticks.moveTo(p[0] + c * (r + 2), p[1] + s * (r + 2));
        ticks.lineTo(p[0] + c * (r + 9), p[1] + s * (r + 9));
      }
      if (id === selected) { selPoint = p; }
      if (inView.has('unit:' + id)) { seen.push(p); }
      if (z >= 15 && u.callsign) { labelled.push([p, u.callsign]); }
    });
    ctx.lineWidth = 2; ctx.strokeStyle = theme.tick; ctx.lineCap = 'round';
    ctx.stroke(ticks);
    Object.keys(rings).forEach(function (k) { ctx.fillStyle = k; ctx.fill(rings[k]); });
    ctx.lineWidth = 1; ctx.strokeStyle = theme.casing;
    Object.keys(fills).forEach(function (k) { ctx.fillStyle = k; ctx.fill(fills[k]); ctx.stroke(fills[k]); });
    if (labelled.length) {
      ctx.font = '600 11px "DejaVu Sans Condensed", "Liberation Sans Narrow", sans-serif';
      ctx.textBaseline = 'middle'; ctx.lineJoin = 'round';
      ctx.lineWidth = 3; ctx.strokeStyle = theme.halo; ctx.fillStyle = theme.text;
      var boxes = new Boxes();
      labelled.forEach(function (l) {
        var x = l[0][0] + r + 5, y = l[0][1] - r - 2, w = textWidth(ctx, l[1]);
        if (boxes.claim(x - 1, y - 7, x + w + 1, y + 7)) { haloText(ctx, l[1], x, y); }
      });
    }
    seen.forEach(function (p) { inViewRing(ctx, p, r + 5); });
    if (selPoint) { selectionRing(ctx, selPoint, r + 7); }
  }

  /* A solid drone-magenta ring with a halo: "the drone's camera sees this now". */
  function inViewRing(ctx, p, radius) {
    ctx.beginPath(); ctx.arc(p[0], p[1], radius, 0, 6.2832);
    ctx.lineWidth = 5; ctx.strokeStyle = theme.halo; ctx.stroke();
    ctx.lineWidth = 2.5; ctx.strokeStyle = DRONE_COLOUR; ctx.stroke();
  }

  function selectionRing(ctx, p, radius) {
    ctx.beginPath(); ctx.arc(p[0], p[1], radius, 0, 6.2832);
    ctx.lineWidth = 2.5; ctx.strokeStyle = theme.selection; ctx.setLineDash([4, 3]); ctx.stroke();
    ctx.setLineDash([]);
  }

  function incidentShape(ctx, shape, x, y, s) {
    ctx.beginPath();
    if (shape === 'triangle') {
      ctx.moveTo(x, y - s * 1.15); ctx.lineTo(x + s * 1.1, y + s * 0.8); ctx.lineTo(x - s * 1.1, y + s * 0.8);
    } else if (shape === 'circle') {
      ctx.arc(x, y, s, 0, 6.2832);
    } else if (shape === 'diamond') {
      ctx.moveTo(x, y - s * 1.2); ctx.lineTo(x + s * 1.2, y); ctx.lineTo(x, y + s * 1.2); ctx.lineTo(x - s * 1.2, y);
    } else {
      ctx.rect(x - s * 0.9, y - s * 0.9, s * 1.8, s * 1.8);
    }
    ctx.closePath();
  }

  function paintIncidents(ctx, layer) {
    var z = layer._map.getZoom(), s = z >= 15 ? 10 : z >= 13 ? 8 : 6, now = performance.now(), pulsing = false;
    var list = [];
    layer.items.forEach(function (inc, id) { list.push([id, inc]); });
    list.sort(function (a, b) { return (b[1].priority || 5) - (a[1].priority || 5); });  // P1 on top
    list.forEach(function (pair) {
      var id = pair[0], inc = pair[1];
      var p = layer.toPoint(inc.lat, inc.lon);
      if (!layer.visible(p, 40)) { return; }
      layer.remember(p, id);
      var colour = PRIORITY_COLOUR[inc.priority] || PRIORITY_COLOUR[3];
      var type = norm(inc.type);
      if (inc.priority === 1 && (norm(inc.status) === 'new' || inc.pulse)) {
        pulsing = true;
        var phase = (now % 1400) / 1400;
        ctx.beginPath(); ctx.arc(p[0], p[1], s + 4 + phase * 22, 0, 6.2832);
        ctx.lineWidth = 3; ctx.strokeStyle = colour; ctx.globalAlpha = 1 - phase; ctx.stroke();
        ctx.globalAlpha = 1;
      }
      if (inView.has('incident:' + id)) { inViewRing(ctx, p, s + 6); }
      incidentShape(ctx, INCIDENT_SHAPE[type] || 'square', p[0], p[1], s);
      ctx.fillStyle = colour; ctx.fill();
      ctx.lineWidth = 1.5; ctx.strokeStyle = inc.restricted ? '#ffffff' : theme.casing;
      if (inc.restricted) { ctx.setLineDash([3, 2]); }
      ctx.stroke(); ctx.setLineDash([]);
      var glyph = INCIDENT_GLYPH[type] || String(inc.type_label || inc.type || '?').charAt(0).toUpperCase();
      ctx.font = 'bold ' + Math.round(s * 1.1) + 'px "DejaVu Sans", sans-serif';
      ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillStyle = inc.priority >= 3 ? '#111111' : '#ffffff';
      ctx.fillText(glyph, p[0], p[1] + (INCIDENT_SHAPE[type] === 'triangle' ? s * 0.15 : 0) + 0.5);
      if (z >= 16.5 && (inc.type_label || inc.address)) {
        ctx.font = '600 11px "DejaVu Sans Condensed", sans-serif'; ctx.textAlign = 'left';
        ctx.lineWidth = 3; ctx.strokeStyle = theme.halo; ctx.fillStyle = colour; ctx.lineJoin = 'round';
        haloText(ctx, inc.type_label || inc.type, p[0] + s + 5, p[1] - 4);
        if (inc.address) {
          ctx.font = '10px "DejaVu Sans Condensed", sans-serif'; ctx.fillStyle = theme.text;
          haloText(ctx, inc.address, p[0] + s + 5, p[1] + 8);
        }
      }
      if (selection.kind === 'incident' && selection.id === id) { selectionRing(ctx, p, s + 8); }
      ctx.textAlign = 'left';
    });
    layer._animated = pulsing;
  }

  var DRONE_COLOUR = '#e040fb', DRONE_LOST = '#8b949e';

  /* Drones: an arrowhead along the heading, magenta while the link is up and grey when it is lost, with
     callsign, height above ground and battery beside it. */
  function paintDrones(ctx, layer) {
    var z = layer._map.getZoom();
    layer.items.forEach(function (d, id) {
      if (d.lat == null || d.lon == null) { return; }
      var p = layer.toPoint(d.lat, d.lon);
      if (!layer.visible(p, 30)) { return; }
      layer.remember(p, id);
      var lost = d.link === 'lost' || d.link === 'stale', colour = lost ? DRONE_LOST : DRONE_COLOUR;
      var a = ((d.heading || 0) - 90) * Math.PI / 180;
      ctx.save(); ctx.translate(p[0], p[1]); ctx.rotate(a);
      ctx.beginPath(); ctx.moveTo(13, 0); ctx.lineTo(-8, 8); ctx.lineTo(-3, 0); ctx.lineTo(-8, -8); ctx.closePath();
      ctx.fillStyle = colour; ctx.fill(); ctx.lineWidth = 1.5; ctx.strokeStyle = theme.casing; ctx.stroke();
      ctx.restore();
      if (z >= 13) {
        ctx.font = '700 11px "DejaVu Sans Condensed", sans-serif'; ctx.textBaseline = 'middle';
        ctx.lineWidth = 3; ctx.strokeStyle = theme.halo; ctx.lineJoin = 'round'; ctx.textAlign = 'left';
        ctx.fillStyle = lost ? DRONE_LOST : '#f3a6ff';
        var height = d.agl != null ? d.agl : d.alt;
        var text = (d.callsign || id) + (height != null ? '  ' + Math.round(height) + ' m' : '');
        haloText(ctx, text, p[0] + 14, p[1] - 9);
        var second = d.link === 'lost' ? 'LINK LOST' : d.link === 'stale' ? 'NO TELEMETRY' :
          (d.battery != null ? Math.round(d.battery) + '%' : '');
        if (second) {
          ctx.font = '600 10px "DejaVu Sans Condensed", sans-serif';
          ctx.fillStyle = lost ? '#ff7b72' : (d.battery < 15 ? '#ff7b72' : d.battery < 30 ? '#e3b341' : theme.text);
          haloText(ctx, second, p[0] + 14, p[1] + 4);
        }
      }
      if (selection.kind === 'drone' && selection.id === id) { selectionRing(ctx, p, 17); }
    });
  }

  /* Zoom at which a rank-0 (most important) label appears; each rank step down delays it half a level. */
  var LABEL_MIN_ZOOM = { place: 11, water: 13, park: 14, street: 14, poi: 15.5 };
  var LABEL_FONT = {
    place: 'bold 12px "DejaVu Sans", sans-serif', street: 'italic 11px "DejaVu Sans Condensed", sans-serif',
    poi: '10px "DejaVu Sans Condensed", sans-serif', water: 'italic 12px "DejaVu Serif", serif',
    park: 'italic 11px "DejaVu Sans Condensed", sans-serif'
  };

  function labelMinZoom(l) {
    var rank = Math.max(0, Math.min(5, l.rank || 0));
    return (LABEL_MIN_ZOOM[l.kind] || 16) + rank * 0.5;
  }

  /* Basemap names: shown by zoom and rank, most important first, never overlapping one another. */
  function paintLabels(ctx, layer) {
    var z = layer._map.getZoom(), boxes = new Boxes(), list = layer.sorted || [];
    ctx.lineJoin = 'round'; ctx.textBaseline = 'middle'; ctx.textAlign = 'center'; ctx.lineWidth = 3;
    ctx.strokeStyle = theme.halo;
    for (var i = 0; i < list.length; i++) {
      var l = list[i];
      if (z < l.minZoom) { continue; }
      var p = layer.toPoint(l.lat, l.lon);
      if (!layer.visible(p, 0)) { continue; }
      var text = l.kind === 'place' ? l.name.toUpperCase() : l.name;
      ctx.font = LABEL_FONT[l.kind] || LABEL_FONT.poi;
      var w = textWidth(ctx, text) / 2 + 3, h = 8;
      if (!boxes.claim(p[0] - w, p[1] - h, p[0] + w, p[1] + h)) { continue; }
      ctx.fillStyle = theme.label[l.kind] || theme.label.poi;
      haloText(ctx, text, p[0], p[1]);
    }
    ctx.textAlign = 'left';
  }

  var layers = {};

  /* ---------- basemap ---------- */

  function roadStyle(feature) {
    var cls = norm(feature.properties && feature.properties['class']), z = map.getZoom();
    var base = ROAD_WIDTH[cls] || 1.2;
    var hidden = (MINOR_ROADS[cls] && z < 14) || (FOOT_ROADS[cls] && z < 15) || (base < 2.5 && z < 12);
    return {
      color: theme.roads[cls] || theme.roadDefault, weight: Math.max(0.6, base * Math.pow(1.5, z - 15)),
      opacity: hidden ? 0 : 1, lineCap: 'round', lineJoin: 'round', dashArray: FOOT_ROADS[cls] ? '2 3' : null,
      interactive: false
    };
  }

  var BASE_STYLE = {
    water: function () { return { color: theme.waterStroke, weight: 1, fillColor: theme.water, fillOpacity: 1 }; },
    parks: function () { return { stroke: false, fillColor: theme.park, fillOpacity: 1 }; },
    buildings: function () {
      var z = map.getZoom();
      return {
        color: theme.buildingStroke, weight: z >= 16 ? 1 : 0.5, fillColor: theme.building,
        fillOpacity: z >= 14 ? 1 : 0, opacity: z >= 15 ? 1 : 0
      };
    },
    rail: function () { return { color: theme.rail, weight: 1.5, dashArray: '6 4', opacity: 1 }; },
    roads: roadStyle
  };
  var BASE_ORDER = ['water', 'parks', 'buildings', 'rail', 'roads'];

  function restyleBasemap() {
    BASE_ORDER.forEach(function (name) {
      if (basemap.layers[name]) { basemap.layers[name].setStyle(BASE_STYLE[name]); }
    });
    if (layers.labels) { layers.labels.redraw(); }
  }

  /* Called by the generated basemap script with the city's basemap.json. */
  wf.setBasemap = function (data) {
    var renderer = L.canvas({ pane: 'wfBase', padding: 0.3 });
    BASE_ORDER.forEach(function (name) {
      if (basemap.layers[name]) { map.removeLayer(basemap.layers[name]); }
      var fc = data.layers && data.layers[name];
      if (!fc) { return; }
      basemap.layers[name] = L.geoJSON(fc, {
        renderer: renderer, interactive: false, style: BASE_STYLE[name], pointToLayer: function () { return null; }
      }).addTo(map);
    });
    var labels = (data.layers && data.layers.labels && data.layers.labels.features) || [];
    layers.labels.sorted = labels.filter(function (f) {
      return f.geometry && f.geometry.type === 'Point' && f.properties && f.properties.name;
    }).map(function (f) {
      var l = {
        name: String(f.properties.name), kind: norm(f.properties.kind) || 'poi', rank: +f.properties.rank || 0,
        lat: f.geometry.coordinates[1], lon: f.geometry.coordinates[0]
      };
      l.minZoom = labelMinZoom(l);
      return l;
    }).sort(function (a, b) { return a.minZoom - b.minZoom; });
    layers.labels.redraw();
    basemap.info = { name: data.name, bounds: data.bounds, center: data.center };
    setAttribution(data.attribution || '© OpenStreetMap contributors');
    if (data.bounds) {
      map.setMaxBounds(L.latLngBounds(data.bounds).pad(1.5));
      map.fitBounds(data.bounds, { animate: false });
    } else if (data.center) {
      map.setView(data.center, 15, { animate: false });
    }
  };

  var attributionText = null;
  function setAttribution(text) {
    if (attributionText) { map.attributionControl.removeAttribution(attributionText); }
    attributionText = text;
    map.attributionControl.addAttribution(text);
  }

  function loadScript(url, done) {
    var s = document.createElement('script');
    s.src = url;
    s.onload = function () { done(true); };
    s.onerror = function () { done(false); };
    document.head.appendChild(s);
  }

  /* ---------- live areas (zones, alerts, footprints, tracks, heat) ---------- */

  function replaceGroup(name) {
    if (areas[name]) { map.removeLayer(areas[name]); }
    areas[name] = L.featureGroup().addTo(map);
    return areas[name];
  }

  function setZones(zones) {
    var g = replaceGroup('zones');
    areaItems.zone = [];
    zones.forEach(function (z) {
      var colour = ZONE_COLOUR[norm(z.kind)] || '#90a4ae';
      var poly = L.polygon(z.polygon, {
        renderer: areaRenderer, color: colour, weight: 2, dashArray: '8 5', fillColor: colour, fillOpacity: 0.1,
        interactive: false
      }).addTo(g);
      if (z.name) {
        poly.bindTooltip(z.name, { permanent: true, direction: 'center', className: 'wf-zone-label' });
      }
      areaItems.zone.push({ id: z.id, polygons: [z.polygon] });
    });
  }

  function setAlerts(alerts) {
    var g = replaceGroup('alerts');
    areaItems.alert = [];
    alerts.forEach(function (a) {
      var colour = SEVERITY_COLOUR[norm(a.severity)] || '#b0bec5';
      var style = {
        renderer: areaRenderer, color: colour, weight: 2, fillColor: colour, fillOpacity: 0.12, dashArray: '2 6',
        interactive: false
      };
      var item = { id: a.id, polygons: [], circles: [] };
      (a.areas || []).forEach(function (area) {
        if (area.polygon) {
          L.polygon(area.polygon, style).addTo(g);
          item.polygons.push(area.polygon);
        } else if (area.circle && area.circle[2] > 0) {
          L.circle([area.circle[0], area.circle[1]], L.extend({ radius: area.circle[2] }, style)).addTo(g);
          item.circles.push(area.circle);
        } else if (area.circle) {  // radius 0: a point alert, drawn as a ring a few pixels wide so it can be seen
          L.circleMarker([area.circle[0], area.circle[1]], L.extend({ radius: 9 }, style)).addTo(g);
        }
      });
      areaItems.alert.push(item);
    });
  }

  function setFootprints(list) {
    var g = replaceGroup('footprints');
    list.forEach(function (f) {
      var colour = f.lost ? DRONE_LOST : DRONE_COLOUR;
      L.polygon(f.polygon, {
        renderer: areaRenderer, color: colour, weight: 2, fillColor: colour, fillOpacity: f.lost ? 0.06 : 0.14,
        dashArray: f.lost ? '6 4' : null, interactive: false
      }).addTo(g);
    });
  }

  /* Cameras: a teal dot where the camera is, its view wedge (when its direction, field of view and range are
     known) and its name; grey and dashed once its report is stale. */
  var CAMERA_COLOUR = '#2ec4b6', cameraItems = [];
  function setCameras(list) {
    var g = replaceGroup('cameras');
    cameraItems = list;
    list.forEach(function (c) {
      var colour = c.stale ? DRONE_LOST : CAMERA_COLOUR;
      if (c.wedge) {
        L.polygon(c.wedge, {
          renderer: areaRenderer, color: colour, weight: 1.5, fillColor: colour, fillOpacity: c.stale ? 0.05 : 0.12,
          dashArray: c.stale ? '6 4' : null, interactive: false
        }).addTo(g);
      }
      L.circleMarker([c.lat, c.lon], { renderer: areaRenderer, radius: 5, color: '#0d1117', weight: 1.5,
        fill: true, fillColor: colour, fillOpacity: 1, interactive: false })
        .bindTooltip('CAM ' + c.id + (c.label ? ' — ' + c.label : '') + (c.stale ? ' (stale)' : ''),
          { permanent: true, direction: 'right', offset: [8, 0], className: 'wf-camera-label' })
        .addTo(g);
    });
  }

  /* Open "look here" requests: a crosshair where the dispatcher wants the camera, tagged with the drone;
     amber until the operator acknowledges it, then green. */
  function setLooks(list) {
    var g = replaceGroup('looks');
    list.forEach(function (l) {
      var colour = l.acknowledged ? '#3fb950' : '#ffb02e';
      var style = { renderer: areaRenderer, color: colour, weight: 2.5, interactive: false };
      L.circleMarker([l.lat, l.lon], L.extend({ radius: 11, fill: false }, style)).addTo(g);
      L.circleMarker([l.lat, l.lon], L.extend({ radius: 2.5, fill: true, fillOpacity: 1, fillColor: colour }, style))
        .addTo(g);
      var d = 0.00022;  // the crosshair's arms, ~25 m: visible from zoom 14 up without hiding the street
      L.polyline([[l.lat - d, l.lon], [l.lat + d, l.lon]], style).addTo(g);
      L.polyline([[l.lat, l.lon - d * 2], [l.lat, l.lon + d * 2]], style).addTo(g);
      L.circleMarker([l.lat, l.lon], { radius: 0, opacity: 0, interactive: false, renderer: areaRenderer })
        .bindTooltip('LOOK ' + l.drone + (l.acknowledged ? ' ✔' : '') + (l.note ? ' — ' + l.note : ''),
          { permanent: true, direction: 'right', offset: [12, 0], className: 'wf-look-label' + (l.acknowledged ? ' wf-ack' : '') })
        .addTo(g);
    });
  }

  function setInView(list) {
    inView = new Set(list.map(function (it) { return it.kind + ':' + it.id; }));
    ['units', 'incidents'].forEach(function (n) { layers[n].redraw(); });
  }

  function trackColour(id) {
    var h = 0, s = String(id);
    for (var i = 0; i < s.length; i++) { h = (h * 31 + s.charCodeAt(i)) >>> 0; }
    return 'hsl(' + (h % 360) + ',85%,60%)';
  }

  function setTracks(tracks) {
    var g = replaceGroup('tracks');
    Object.keys(tracks).forEach(function (id) {
      var drone = layers.drones.items.has(id);  // a drone's track in its own colour, thin and dashed
      L.polyline(tracks[id], {
        renderer: areaRenderer, color: drone ? DRONE_COLOUR : trackColour(id), weight: drone ? 2 : 2.5,
        opacity: drone ? 0.7 : 0.85, dashArray: drone ? '5 4' : null, interactive: false
      }).addTo(g);
    });
  }

  function setHeat(points) {
    if (!heat) {
      heat = L.heatLayer([], { radius: 24, blur: 20, maxZoom: 17, minOpacity: 0.25 }).addTo(map);
    }
    heat.setLatLngs(points);
  }

  function insidePolygon(lat, lon, poly) {
    var inside = false;
    for (var i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      var yi = poly[i][0], xi = poly[i][1], yj = poly[j][0], xj = poly[j][1];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }

  /* A click within 10 px of a camera's dot selects it (the console opens its video). */
  function cameraAt(cp) {
    for (var i = cameraItems.length - 1; i >= 0; i--) {
      var c = cameraItems[i];
      if (map.latLngToContainerPoint([c.lat, c.lon]).distanceTo(cp) <= 10) { return ['camera', c.id]; }
    }
    return null;
  }

  function areaAt(latlng) {
    var kinds = ['alert', 'zone'];
    for (var k = 0; k < kinds.length; k++) {
      var list = areaItems[kinds[k]];
      for (var i = list.length - 1; i >= 0; i--) {
        var it = list[i];
        var hit = it.polygons.some(function (p) { return insidePolygon(latlng.lat, latlng.lng, p); }) ||
          (it.circles || []).some(function (c) { return map.distance(latlng, [c[0], c[1]]) <= c[2]; });
        if (hit) { return [kinds[k], it.id]; }
      }
    }
    return null;
  }

  /* ---------- batches from Python ---------- */

  function upsert(layer, list) {
    for (var i = 0; i < list.length; i++) {
      var d = list[i], id = String(d.id), cur = layer.items.get(id);
      if (cur) { Object.assign(cur, d); } else { layer.items.set(id, Object.assign({}, d)); }
    }
    layer.redraw();
  }

  function remove(layer, ids) {
    ids.forEach(function (id) { layer.items.delete(String(id)); });
    layer.redraw();
  }

  function applyCommand(cmd) {
    var name = cmd[0];
    if (name === 'select') {
      wf.select(cmd[1], cmd[2]);
    } else if (name === 'fit') {
      map.fitBounds(cmd[1], { padding: [20, 20] });
    } else if (name === 'center') {
      map.setView([cmd[1], cmd[2]], cmd[3] == null ? map.getZoom() : cmd[3]);
    } else if (name === 'theme') {
      setTheme(cmd[1]);
    } else if (name === 'canIssueAlerts') {
      canIssueAlerts = !!cmd[1];
    }
  }

  /* One batch: {seq, config?, units?, unitsRemoved?, incidents?, ..., commands?}. */
  wf.applyBatch = function (json) {
    var t0 = performance.now();
    var b = JSON.parse(json);
    if (b.config) { configure(b.config); }
    if (b.unitsRemoved) { remove(layers.units, b.unitsRemoved); }
    if (b.units) { upsert(layers.units, b.units); }
    if (b.incidentsRemoved) { remove(layers.incidents, b.incidentsRemoved); }
    if (b.incidents) { upsert(layers.incidents, b.incidents); }
    if (b.dronesRemoved) { remove(layers.drones, b.dronesRemoved); }
    if (b.drones) { upsert(layers.drones, b.drones); }
    if (b.zones) { setZones(b.zones); }
    if (b.alerts) { setAlerts(b.alerts); }
    if (b.footprints) { setFootprints(b.footprints); }
    if (b.tracks) { setTracks(b.tracks); }
    if (b.looks) { setLooks(b.looks); }
    if (b.cameras) { setCameras(b.cameras); }
    if (b.inView) { setInView(b.inView); }
    if (b.heat) { setHeat(b.heat); }
    (b.commands || []).forEach(applyCommand);
    var dt = performance.now() - t0;
    stats.batches += 1; stats.applyMsTotal += dt; stats.applyMsMax = Math.max(stats.applyMsMax, dt);
    post('jsBatchApplied', b.seq, dt);
  };

  function configure(cfg) {
    setTheme(cfg.theme || 'dark');
    if (cfg.tiles) {
      tiles = L.tileLayer(cfg.tiles.url, {
        maxZoom: cfg.tiles.maxZoom || 19, minZoom: cfg.tiles.minZoom || 0, tms: !!cfg.tiles.tms,
        attribution: cfg.tiles.attribution || ''
      }).addTo(map);
      if (cfg.tiles.bounds) { map.fitBounds(cfg.tiles.bounds, { animate: false }); }
    }
    if (cfg.basemapScript) {
      loadScript(cfg.basemapScript, function (ok) { post('jsReady', ok); });
    } else {
      post('jsReady', true);
    }
  }

  function setTheme(name) {
    themeName = THEMES[name] ? name : 'dark';
    theme = THEMES[themeName];
    document.body.classList.toggle('wf-dark', themeName === 'dark');
    document.body.classList.toggle('wf-light', themeName === 'light');
    map.getContainer().style.background = theme.background;
    restyleBasemap();
    ['units', 'incidents', 'drones'].forEach(function (n) { layers[n].redraw(); });
  }

  /* ---------- selection, context menu, measuring ---------- */

  wf.select = function (kind, id) {
    selection = { kind: kind, id: id == null ? null : String(id) };
    ['units', 'incidents', 'drones'].forEach(function (n) { layers[n].redraw(); });
    var layer = { unit: layers.units, incident: layers.incidents, drone: layers.drones }[kind];
    var item = layer && layer.items.get(selection.id);
    if (item && !map.getBounds().pad(-0.1).contains([item.lat, item.lon])) { map.panTo([item.lat, item.lon]); }
  };

  function pointAt(cp) {
    var order = [['incident', layers.incidents], ['drone', layers.drones], ['unit', layers.units]];
    for (var i = 0; i < order.length; i++) {
      var id = order[i][1].hit(cp);
      if (id != null) { return [order[i][0], id]; }
    }
    return null;
  }

  var menu = null;
  var canIssueAlerts = false;  /* supervisors: the menu offers an alert around the clicked point */
  function hideMenu() { if (menu) { menu.remove(); menu = null; } }

  function showMenu(e) {
    hideMenu();
    menu = L.DomUtil.create('div', 'wf-menu', map.getContainer());
    var head = L.DomUtil.create('div', 'wf-menu-head', menu);
    head.textContent = e.latlng.lat.toFixed(5) + ', ' + e.latlng.lng.toFixed(5);
    var items = [
      ['New incident here', function () { post('jsContextNewIncident', e.latlng.lat, e.latlng.lng); }],
      ['Measure from here', function () { measure.start(); measure.add(e.latlng); }],
      ['Centre map here', function () { map.panTo(e.latlng); }]
    ];
    if (canIssueAlerts) {
      items.splice(1, 0, ['Issue alert here…', function () { post('jsContextAlert', e.latlng.lat, e.latlng.lng); }]);
    }
    if (layers.drones.items.size) {
      items.splice(1, 0, ['Ask a drone to look here…', function () { post('jsContextLook', e.latlng.lat, e.latlng.lng); }]);
    }
    items.forEach(function (it) {
      var a = L.DomUtil.create('div', 'wf-menu-item', menu);
      a.textContent = it[0];
      L.DomEvent.on(a, 'click', function (ev) { L.DomEvent.stop(ev); hideMenu(); it[1](); });
    });
    L.DomEvent.disableClickPropagation(menu);
    var size = map.getSize();
    menu.style.left = Math.min(e.containerPoint.x, size.x - 190) + 'px';
    menu.style.top = Math.min(e.containerPoint.y, size.y - 30 - 26 * items.length) + 'px';
  }

  var measure = {
    active: false, points: [], line: null, button: null,
    start: function () {
      this.clear();
      this.active = true;
      map.doubleClickZoom.disable();
      map.getContainer().classList.add('wf-measuring');
      if (this.button) { this.button.classList.add('wf-active'); }
    },
    stop: function () {
      this.clear();
      this.active = false;
      map.doubleClickZoom.enable();
      map.getContainer().classList.remove('wf-measuring');
      if (this.button) { this.button.classList.remove('wf-active'); }
    },
    clear: function () {
      if (this.line) { map.removeLayer(this.line); }
      this.line = null; this.points = [];
    },
    add: function (latlng) {
      this.points.push(latlng);
      if (!this.line) {
        this.line = L.polyline([], {
          color: theme.measure, weight: 2.5, dashArray: '6 4', interactive: false, renderer: areaRenderer
        }).addTo(map);
      }
      this.line.setLatLngs(this.points);
      var total = 0;
      for (var i = 1; i < this.points.length; i++) { total += map.distance(this.points[i - 1], this.points[i]); }
      var text = total < 1000 ? Math.round(total) + ' m' : (total / 1000).toFixed(2) + ' km';
      this.line.bindTooltip(text, { permanent: true, direction: 'right', className: 'wf-measure-label' })
        .openTooltip(latlng);
      if (this.points.length > 1) { post('jsMeasured', total); }
      return total;
    }
  };

  var MeasureControl = L.Control.extend({
    options: { position: 'topleft' },
    onAdd: function () {
      var box = L.DomUtil.create('div', 'leaflet-bar wf-tool');
      var a = L.DomUtil.create('a', 'wf-measure-button', box);
      a.href = '#'; a.title = 'Measure distance (Esc to finish)'; a.innerHTML = '&#x2194;';
      measure.button = a;
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(a, 'click', function (e) {
        L.DomEvent.stop(e);
        if (measure.active) { measure.stop(); } else { measure.start(); }
      });
      return box;
    }
  });

  var CursorControl = L.Control.extend({
    options: { position: 'bottomleft' },
    onAdd: function (m) {
      var div = L.DomUtil.create('div', 'wf-cursor');
      m.on('mousemove', function (e) {
        div.textContent = e.latlng.lat.toFixed(5) + ' N  ' + e.latlng.lng.toFixed(5) + ' E';
      });
      return div;
    }
  });

  function onClick(e) {
    hideMenu();
    if (measure.active) { measure.add(e.latlng); return; }
    var hit = pointAt(e.containerPoint) || cameraAt(e.containerPoint) || areaAt(e.latlng);
    if (hit) {
      wf.select(hit[0], hit[1]);
      post('jsSelected', hit[0], String(hit[1]));
    }
  }

  /* ---------- helpers for tests and diagnostics (all return JSON strings) ---------- */

  wf.count = function (name) {
    var l = layers[name];
    return JSON.stringify(l ? l.items.size : -1);
  };
  wf.unitLatLng = function (id) {
    var u = layers.units.items.get(String(id));
    return JSON.stringify(u ? [u.lat, u.lon] : null);
  };
  wf.item = function (name, id) {
    var l = layers[name], it = l && l.items.get(String(id));
    return JSON.stringify(it || null);
  };
  wf.layerCount = function (name) {
    if (name === "labels") { return JSON.stringify((layers.labels.sorted || []).length); }
    var l = basemap.layers[name] || areas[name];
    return JSON.stringify(l ? l.getLayers().length : 0);
  };
  wf.stats = function () {
    return JSON.stringify(L.extend({ theme: themeName, zoom: map.getZoom(), selection: selection }, stats));
  };
  wf.screenPoint = function (lat, lon) {
    var p = map.latLngToContainerPoint([lat, lon]);
    return JSON.stringify([p.x, p.y]);
  };
  wf.hitTest = function (x, y) {
    return JSON.stringify(pointAt(L.point(x, y)));
  };
  wf.clickAt = function (x, y) {
    onClick({ containerPoint: L.point(x, y), latlng: map.containerPointToLatLng([x, y]) });
    return JSON.stringify(true);
  };
  wf.measureDemo = function (a, b) {
    measure.start(); measure.add(L.latLng(a)); var d = measure.add(L.latLng(b)); measure.stop();
    return JSON.stringify(d);
  };
  wf.contextAt = function (lat, lon, label) {
    showMenu({ latlng: L.latLng(lat, lon), containerPoint: map.latLngToContainerPoint([lat, lon]) });
    var items = Array.prototype.slice.call(menu.querySelectorAll('.wf-menu-item'));
    var pick = label ? items.filter(function (el) { return el.textContent === label; })[0] : items[0];
    if (!pick) { hideMenu(); return JSON.stringify(false); }
    pick.click();
    return JSON.stringify(true);
  };
  wf.inView = function () { return JSON.stringify(Array.from(inView).sort()); };

  /* ---------- start-up ---------- */

  var areaRenderer = null;

  wf.init = function (m) {
    map = m;
    [['wfBase', 250], ['wfLabels', 300], ['wfAreas', 410], ['wfUnits', 450], ['wfDrones', 455],
      ['wfIncidents', 460]].forEach(function (p) {
      var pane = map.createPane(p[0]);
      pane.style.zIndex = p[1];
      pane.style.pointerEvents = 'none';
    });
    areaRenderer = L.canvas({ pane: 'wfAreas', padding: 0.2 });
    layers.labels = new PointCanvas('labels', 'wfLabels', paintLabels, 0).addTo(map);
    layers.units = new PointCanvas('units', 'wfUnits', paintUnits, 10).addTo(map);
    layers.drones = new PointCanvas('drones', 'wfDrones', paintDrones, 14).addTo(map);
    layers.incidents = new PointCanvas('incidents', 'wfIncidents', paintIncidents, 14).addTo(map);
    map.attributionControl.setPrefix(false);
    new MeasureControl().addTo(map);
    new CursorControl().addTo(map);
    map.on('zoomend', restyleBasemap);
    map.on('click', onClick);
    map.on('contextmenu', function (e) { if (measure.active) { measure.stop(); } else { showMenu(e); } });
    map.on('movestart', hideMenu);
    L.DomEvent.on(document, 'keydown', function (e) {
      if (e.key === 'Escape') { hideMenu(); measure.stop(); }
    });
    setTheme('dark');
    if (typeof QWebChannel !== 'undefined' && window.qt && qt.webChannelTransport) {
      new QWebChannel(qt.webChannelTransport, function (channel) {
        bridge = channel.objects.wfBridge;
        bridge.batch.connect(wf.applyBatch);
        post('jsHello');
      });
    }
  };

  document.addEventListener('DOMContentLoaded', function () {
    if (window.map_wf instanceof L.Map) { wf.init(window.map_wf); }
  });
})();
