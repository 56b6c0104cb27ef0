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
      measure: '#00e5ff', stale: '#f0b429', droneText: '#f3a6ff',
      signal: { housing: '#20242b', edge: '#5a616d', lamp: '#c9a227', requested: '#ffb300', granted: '#00e676',
                rejected: '#ff5252', unanswered: '#b0bec5', served: '#78909c' }
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
      measure: '#0055cc', stale: '#a15c00', droneText: '#8e24aa',
      signal: { housing: '#3a3a3a', edge: '#ffffff', lamp: '#e0a800', requested: '#e08e00', granted: '#00a152',
                rejected: '#d50000', unanswered: '#9e9e9e', served: '#607d8b' }
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
  var areas = { zones: null, alerts: null, footprints: null, tracks: null, looks: null, cameras: null, routes: null };
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
  /* Whether a box overlaps none taken so far. */
  Boxes.prototype.free = function (x0, y0, x1, y1) {
    for (var i = Math.floor(x0 / 64); i <= Math.floor(x1 / 64); i++) {
      for (var j = Math.floor(y0 / 64); j <= Math.floor(y1 / 64); j++) {
        var list = this.cells.get(i * 100003 + j);
        if (!list) { continue; }
        for (var n = 0; n < list.length; n++) {
          var b = list[n];
          if (x0 < b[2] && x1 > b[0] && y0 < b[3] && y1 > b[1]) { return false; }
        }
      }
    }
    return true;
  };
  /* Take a box if it is free; whether it was. */
  Boxes.prototype.claim = function (x0, y0, x1, y1) {
    if (!this.free(x0, y0, x1, y1)) { return false; }
    var box = [x0, y0, x1, y1];
    for (var i = Math.floor(x0 / 64); i <= Math.floor(x1 / 64); i++) {
      for (var j = Math.floor(y0 / 64); j <= Math.floor(y1 / 64); j++) {
        var k = i * 100003 + j, list = this.cells.get(k);
        if (list) { list.push(box); } else { this.cells.set(k, [box]); }
      }
    }
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

  /* ---------- units: symbols by kind, co-located groups, stale positions ---------- */

  /* A unit's symbol: the outline says what travels (square: fire apparatus, cross: ambulance, shield: police
     vehicle, circle: people and anything unknown, triangle: aircraft, hull: boat, pennant: command) and the
     letter which one. The fill is the status colour, the border the agency colour. */
  var UNIT_KIND = {
    engine: ['square', 'E'], pumper: ['square', 'E'], ladder: ['square', 'L'], aerial: ['square', 'L'],
    truck: ['square', 'L'], tanker: ['square', 'T'], tender: ['square', 'T'], rescue: ['square', 'R'],
    hazmat: ['square', 'H'], brush: ['square', 'B'],
    ambulance: ['cross', 'A'], medic: ['cross', 'A'], als: ['cross', 'A'], bls: ['cross', 'B'],
    ems: ['cross', 'A'], paramedic: ['cross', 'A'],
    patrol: ['shield', 'P'], patrol_car: ['shield', 'P'], police: ['shield', 'P'], car: ['shield', 'P'],
    motorcycle: ['shield', 'M'], k9: ['shield', 'K'], dog: ['shield', 'K'], van: ['shield', 'V'],
    command: ['pennant', 'C'], chief: ['pennant', 'C'], supervisor: ['pennant', 'S'],
    foot: ['circle', 'F'], officer: ['circle', 'O'], team: ['circle', 'T'], person: ['circle', 'O'],
    drone: ['triangle', 'D'], uav: ['triangle', 'D'], helicopter: ['triangle', 'H'], aircraft: ['triangle', 'A'],
    boat: ['hull', 'B'], vessel: ['hull', 'B']
  };
  var UNKNOWN_KIND = ['circle', ''];

  /* The page's idea of "now", in epoch seconds: the console's clock when it sent one (a replay runs in the
     past), carried forward by the page's own monotonic clock. */
  var clock = { now: null, at: 0 };
  function clockNow() {
    return clock.now == null ? Date.now() / 1000 : clock.now + (performance.now() - clock.at) / 1000;
  }
  /* Seconds since the unit's last position fix when that is more than its feed's expected interval, else -1. */
  function staleAge(u, now) {
    if (u.fix_at == null || u.fix_every == null) { return -1; }
    var age = now - u.fix_at;
    return age > u.fix_every ? age : -1;
  }
  function ageText(s) {
    if (s < 90) { return Math.round(s) + ' s'; }
    if (s < 5400) { return Math.round(s / 60) + ' min'; }
    if (s < 172800) { return Math.round(s / 3600) + ' h'; }
    return Math.round(s / 86400) + ' d';
  }

  function symbolPath(ctx, shape, c, h) {
    ctx.beginPath();
    if (shape === 'square' || shape === 'cross') {
      ctx.rect(c - h, c - h, 2 * h, 2 * h);
    } else if (shape === 'shield') {
      ctx.moveTo(c - h, c - h); ctx.lineTo(c + h, c - h); ctx.lineTo(c + h, c + h * 0.2);
      ctx.quadraticCurveTo(c + h, c + h, c, c + h * 1.15); ctx.quadraticCurveTo(c - h, c + h, c - h, c + h * 0.2);
    } else if (shape === 'triangle') {
      ctx.moveTo(c, c - h * 1.2); ctx.lineTo(c + h * 1.2, c + h); ctx.lineTo(c - h * 1.2, c + h);
    } else if (shape === 'hull') {
      ctx.moveTo(c - h * 1.2, c - h * 0.8); ctx.lineTo(c + h * 1.2, c - h * 0.8); ctx.lineTo(c + h * 0.7, c + h);
      ctx.lineTo(c - h * 0.7, c + h);
    } else if (shape === 'pennant') {
      ctx.moveTo(c - h, c - h); ctx.lineTo(c + h * 1.2, c - h * 0.3); ctx.lineTo(c + h * 1.2, c + h);
      ctx.lineTo(c - h, c + h);
    } else {
      ctx.arc(c, c, h, 0, 6.2832);
    }
    ctx.closePath();
  }

  /* Each distinct symbol is drawn once into a small canvas and then stamped: thousands of units cost one
     drawImage each instead of paths, text and strokes. */
  var sprites = new Map();
  function unitSprite(sym, fill, ring, size, stale, dpr) {
    var key = sym[0] + sym[1] + '|' + fill + '|' + ring + '|' + size + '|' + stale + '|' + dpr + '|' + themeName;
    var c = sprites.get(key);
    if (c) { return c; }
    if (sprites.size > 2000) { sprites.clear(); }
    var pad = 3, full = size + 2 * pad, mid = full / 2, h = size / 2;
    c = document.createElement('canvas');
    c.width = Math.ceil(full * dpr); c.height = Math.ceil(full * dpr); c.full = full;
    var g = c.getContext('2d');
    g.scale(dpr, dpr);
    symbolPath(g, sym[0], mid, h);
    g.fillStyle = stale ? theme.background : fill; g.fill();
    g.lineJoin = 'round';
    g.lineWidth = 4.5; g.strokeStyle = theme.casing; g.stroke();
    g.lineWidth = 2.5; g.strokeStyle = ring;
    if (stale) { g.setLineDash([3, 2]); }
    g.stroke(); g.setLineDash([]);
    var ink = stale ? fill : '#101317';
    if (sym[0] === 'cross') {  // an ambulance: a cross, unmistakable even at the smallest size
      var a = h * 0.62, b = h * 0.2;
      g.fillStyle = ink;
      g.fillRect(mid - a, mid - b, 2 * a, 2 * b); g.fillRect(mid - b, mid - a, 2 * b, 2 * a);
    } else if (sym[1] && size >= 12) {
      g.fillStyle = ink; g.textAlign = 'center'; g.textBaseline = 'middle';
      g.font = 'bold ' + Math.round(size * 0.68) + 'px "DejaVu Sans Condensed", "DejaVu Sans", sans-serif';
      g.fillText(sym[1], mid, mid + (sym[0] === 'triangle' ? h * 0.25 : sym[0] === 'hull' ? -h * 0.05 : 0.5));
    }
    sprites.set(key, c);
    return c;
  }

  /* A group's count: a white pill with the number, drawn once per count. */
  function badgeSprite(text, dpr) {
    var key = 'badge|' + text + '|' + dpr, c = sprites.get(key);
    if (c) { return c; }
    c = document.createElement('canvas');
    var g = c.getContext('2d');
    g.font = 'bold 11px "DejaVu Sans Condensed", sans-serif';
    var bw = Math.max(16, Math.ceil(g.measureText(text).width) + 8);
    c.w = bw + 2; c.h = 18;
    c.width = Math.ceil(c.w * dpr); c.height = Math.ceil(c.h * dpr);
    g = c.getContext('2d'); g.scale(dpr, dpr);
    g.beginPath(); g.arc(9, 9, 8, Math.PI / 2, 3 * Math.PI / 2); g.arc(bw - 7, 9, 8, -Math.PI / 2, Math.PI / 2);
    g.closePath(); g.fillStyle = '#ffffff'; g.fill(); g.lineWidth = 1.5; g.strokeStyle = '#101317'; g.stroke();
    g.font = 'bold 11px "DejaVu Sans Condensed", sans-serif';
    g.fillStyle = '#101317'; g.textAlign = 'center'; g.textBaseline = 'middle';
    g.fillText(text, c.w / 2, 9.5);
    sprites.set(key, c);
    return c;
  }

  /* Behind a group's symbol: two offset outlines in its agency colour, "more than one here". */
  function stackSprite(ring, r, dpr) {
    var key = 'stack|' + ring + '|' + r + '|' + dpr + '|' + themeName, c = sprites.get(key);
    if (c) { return c; }
    c = document.createElement('canvas');
    c.w = 2 * r + 9; c.h = 2 * r + 9;
    c.width = Math.ceil(c.w * dpr); c.height = Math.ceil(c.h * dpr);
    var g = c.getContext('2d');
    g.scale(dpr, dpr); g.fillStyle = theme.casing; g.strokeStyle = ring; g.lineWidth = 1.5;
    for (var k = 2; k >= 1; k--) {  // the canvas's (1, 7) is the symbol's top-left corner
      g.beginPath(); g.rect(1 + 3 * k, 7 - 3 * k, 2 * r, 2 * r); g.fill(); g.stroke();
    }
    sprites.set(key, c);
    return c;
  }

  /* Units drawn apart around the point where they stood together, after a click on their group. */
  var spread = null;  // {lat, lon, ids: [...]}
  var spreadFor = null;  // a unit selected from outside: spread its group at the next paint
  var unitPaint = { symbols: {}, stale: 0, groups: 0, biggest: 0, spread: 0, badges: [], labels: [] };
  var unitDrawn = new Map();  // id -> the group it was painted in (last paint)
  var ringed = { unit: [], incident: [] };  // items ringed as seen by a drone camera at the last paint


  /* Most pressing first: the group shows its top member's symbol. */
  var STATUS_RANK = {
    on_scene: 0, at_scene: 0, en_route: 1, enroute: 1, responding: 1, dispatched: 2, assigned: 2,
    transporting: 3, at_hospital: 4, busy: 5, returning: 6, available: 7, in_quarters: 8
  };
  /* What a unit's kind, status and agency resolve to, worked out when they change rather than at every
     paint (thousands of name normalisations per frame were most of the painting time). */
  var unitLooks = new Map();  // id -> look
  function unitLook(u) {
    var sym = UNIT_KIND[norm(u.kind)] || UNKNOWN_KIND, status = norm(u.status), rank = STATUS_RANK[status];
    var fill = STATUS_COLOUR[status] || '#9ca3af', ring = AGENCY_COLOUR[norm(u.agency)] || '#b0b0b0';
    return { sym: sym, symKey: sym[0] + sym[1], fill: fill, ring: ring, rank: rank == null ? 9 : rank,
             dotKey: fill + '|' + ring, staleDotKey: '#4b5563|' + ring };
  }
  function lookOf(u, id) {
    var look = unitLooks.get(id);
    if (!look) { look = unitLook(u); unitLooks.set(id, look); }
    return look;
  }

  function paintUnits(ctx, layer) {
    var z = layer._map.getZoom(), dpr = layer._dpr || 1, now = clockNow();
    var size = z >= 17 ? 20 : z >= 16 ? 18 : z >= 14 ? 15 : z >= 13 ? 12 : 0;  // 0: plain dots
    var r = size ? size / 2 : (z >= 12 ? 4 : 3);
    var cell = size ? size * 0.8 : 2 * r;  // closer than this on screen: one group (symbols only)
    var selected = selection.kind === 'unit' ? selection.id : null;
    var grid = new Map(), groups = [], spreadIds = spread ? new Set(spread.ids) : null, spreadOut = [];
    unitPaint = { symbols: {}, stale: 0, groups: 0, biggest: 0, spread: 0, badges: [], labels: [] };
    unitDrawn = new Map(); ringed.unit = [];
    var labels = [], rings = [], ticks = new Path2D(), selPoint = null, dots = {};
    /* One pass: bin each visible unit into a screen grid, joining a group started within one cell in the
       3x3 neighbourhood. O(n), so grouping costs nothing noticeable even at 5,000 units. */
    layer.items.forEach(function (u, id) {
      if (u.lat == null || u.lon == null) { return; }
      if (spreadIds && spreadIds.has(id)) { spreadOut.push(id); return; }
      var p = layer.toPoint(u.lat, u.lon);
      if (!layer.visible(p, 20)) { return; }
      if (!size) {  // dots (city overview): no groups, no badges, no labels; and nothing allocated per unit
        stamp(u, id, p);
        layer.remember(p, id);
        unitDrawn.set(id, p);
        if (id === selected) { selPoint = p; }
        if (inView.has('unit:' + id) && ringable(u)) { rings.push(p); ringed.unit.push(id); }
        return;
      }
      var gx = Math.floor(p[0] / cell), gy = Math.floor(p[1] / cell), g = null;
      for (var dx = -1; dx <= 1 && !g; dx++) {
        for (var dy = -1; dy <= 1 && !g; dy++) {
          var list = grid.get((gx + dx) * 65536 + gy + dy);
          if (!list) { continue; }
          for (var n = 0; n < list.length; n++) {
            if (Math.abs(list[n].p[0] - p[0]) < cell && Math.abs(list[n].p[1] - p[1]) < cell) { g = list[n]; break; }
          }
        }
      }
      if (!g) {
        g = { p: p, ids: [], top: u, topId: id };
        var key = gx * 65536 + gy;
        if (!grid.has(key)) { grid.set(key, []); }
        grid.get(key).push(g);
        groups.push(g);
      } else if (lookOf(u, id).rank < lookOf(g.top, g.topId).rank) {
        g.top = u; g.topId = id;
      }
      g.ids.push(id);
      unitDrawn.set(id, g);
    });
    if (spreadFor && unitDrawn.has(spreadFor) && unitDrawn.get(spreadFor).ids.length > 1) {
      var sg = unitDrawn.get(spreadFor);
      var ll = layer._map.layerPointToLatLng([sg.p[0] + layer._topLeft.x, sg.p[1] + layer._topLeft.y]);
      spread = { lat: ll.lat, lon: ll.lng, ids: sg.ids.slice() };
      spreadFor = null;
      return paintUnits(ctx, layer);
    }
    spreadFor = null;
    function stamp(u, id, p) {
      var look = lookOf(u, id), age = staleAge(u, now), fill = look.fill, ring = look.ring;
      unitPaint.symbols[look.symKey] = (unitPaint.symbols[look.symKey] || 0) + 1;
      if (age >= 0) { unitPaint.stale += 1; }
      if (size) {
        var img = unitSprite(look.sym, fill, ring, size, age >= 0, dpr);
        ctx.globalAlpha = age >= 0 ? 0.8 : 1;
        ctx.drawImage(img, Math.round(p[0] - img.full / 2), Math.round(p[1] - img.full / 2), img.full, img.full);
        ctx.globalAlpha = 1;
      } else {
        var k = age >= 0 ? look.staleDotKey : look.dotKey;
        (dots[k] = dots[k] || new Path2D()).moveTo(p[0] + r, p[1]);
        dots[k].arc(p[0], p[1], r, 0, 6.2832);
      }
      if (age < 0 && u.heading != null && !(u.speed != null && u.speed < 0.5)) {
        var a = (u.heading - 90) * Math.PI / 180, c = Math.cos(a), s = Math.sin(a);
        ticks.moveTo(p[0] + c * (r + 3), p[1] + s * (r + 3));
        ticks.lineTo(p[0] + c * (r + 9), p[1] + s * (r + 9));
      }
      return age;
    }
    /* The spread group first: a spider of its members around the point they share, each clickable. */
    if (spread) {
      var centre = layer.toPoint(spread.lat, spread.lon), members = spreadOut.sort();
      unitPaint.spread = members.length;
      var step = Math.max(size, 2 * r + 6) + 8;
      var radius = Math.max(step * 1.6, members.length * step / 6.2832);
      ctx.lineWidth = 1.5; ctx.strokeStyle = theme.text; ctx.globalAlpha = 0.7;
      ctx.beginPath();
      var pts = members.map(function (id, i) {
        var a = -Math.PI / 2 + i * 6.2832 / members.length;
        var q = [centre[0] + Math.cos(a) * radius, centre[1] + Math.sin(a) * radius];
        ctx.moveTo(centre[0], centre[1]); ctx.lineTo(q[0], q[1]);
        return q;
      });
      ctx.stroke(); ctx.globalAlpha = 1;
      ctx.beginPath(); ctx.arc(centre[0], centre[1], 3, 0, 6.2832); ctx.fillStyle = theme.text; ctx.fill();
      members.forEach(function (id, i) {
        var u = layer.items.get(id), q = pts[i], age = stamp(u, id, q);
        layer.remember(q, id);
        unitDrawn.set(id, { p: q, ids: [id], top: u, topId: id, spread: true });
        if (id === selected) { selPoint = q; }
        var right = q[0] >= centre[0];
        labels.push({ p: q, text: (u.callsign || id) + (age >= 0 ? ' · ' + ageText(age) : ''), stale: age >= 0,
                      side: right ? 1 : -1, force: true });
      });
    }
    groups.forEach(function (g) {
      var u = g.top, n = g.ids.length;
      if (n > 1) {  // a stack: two offset outlines behind the top symbol say "more than one here"
        unitPaint.groups += 1; unitPaint.biggest = Math.max(unitPaint.biggest, n);
        var stack = stackSprite(lookOf(u, g.topId).ring, r, dpr);
        ctx.drawImage(stack, Math.round(g.p[0] - r - 1), Math.round(g.p[1] - r - 7), stack.w, stack.h);
      }
      var age = stamp(u, g.topId, g.p);
      layer.remember(g.p, n > 1 ? { group: g.ids } : g.topId);
      if (selected != null && g.ids.indexOf(selected) >= 0) { selPoint = g.p; }
      g.ids.forEach(function (id) {
        if (inView.has('unit:' + id) && ringable(layer.items.get(id))) { rings.push(g.p); ringed.unit.push(id); }
      });
      if (n > 1) {
        var badge = badgeSprite(String(n), dpr);
        ctx.drawImage(badge, Math.round(g.p[0] + r - 3), Math.round(g.p[1] - r - 13), badge.w, badge.h);
        unitPaint.badges.push(String(n));
      }
      if (z >= 15 || (age >= 0 && z >= 13)) {
        var names = g.ids.map(function (id) { var m = layer.items.get(id); return m.callsign || id; }).sort();
        var label = n > 1 ? names.slice(0, 2).join(' ') + (n > 2 ? ' +' + (n - 2) : '') :
          (u.callsign || g.topId) + (age >= 0 ? ' · ' + ageText(age) : '');
        labels.push({ p: g.p, text: label, stale: age >= 0 && n === 1, side: 1, dx: n > 1 ? 12 : 0 });
      }
    });
    Object.keys(dots).forEach(function (k) {
      var parts = k.split('|');
      ctx.fillStyle = parts[0]; ctx.fill(dots[k]);
      ctx.lineWidth = 1.5; ctx.strokeStyle = parts[1]; ctx.stroke(dots[k]);
    });
    ctx.lineWidth = 2; ctx.strokeStyle = theme.tick; ctx.lineCap = 'round';
    ctx.stroke(ticks);
    placeUnitLabels(ctx, labels, r);
    rings.forEach(function (p) { inViewRing(ctx, p, r + 6); });
    if (selPoint) { selectionRing(ctx, selPoint, r + 8); }
  }

  /* Labels never collide: each tries right, left, above and below its symbol, first where no street or place
     name is either, then over names (a callsign matters more than a street name), and is dropped if all
     four sides are taken by other units' labels or symbols (stale ages and spread members go first, so
     they are the last to be dropped). */
  function placeUnitLabels(ctx, labels, r) {
    if (!labels.length) { return; }
    ctx.font = '600 11px "DejaVu Sans Condensed", "Liberation Sans Narrow", sans-serif';
    ctx.textBaseline = 'middle'; ctx.lineJoin = 'round'; ctx.lineWidth = 3; ctx.strokeStyle = theme.halo;
    labels.sort(function (a, b) { return (b.force ? 2 : b.stale ? 1 : 0) - (a.force ? 2 : a.stale ? 1 : 0); });
    var boxes = new Boxes();
    labels.forEach(function (l) {  // symbols are obstacles too
      boxes.claim(l.p[0] - r - 2, l.p[1] - r - 2, l.p[0] + r + 2, l.p[1] + r + 2);
    });
    var names = layers.labels.boxes || new Boxes(), drones = layers.drones.boxes || new Boxes();
    labels.forEach(function (l) {
      var w = textWidth(ctx, l.text), gap = r + 5 + (l.dx || 0), x = l.p[0], y = l.p[1];
      var tries = [[x + gap, y], [x - gap - w, y], [x - w / 2, y - r - 10], [x - w / 2, y + r + 10]];
      if (l.side < 0) { tries.unshift(tries.splice(1, 1)[0]); }
      tries = tries.map(function (t) { return [t[0], t[1], true]; }).concat(tries);
      for (var i = 0; i < tries.length; i++) {
        var tx = tries[i][0], ty = tries[i][1];
        if (tries[i][2] && !(names.free(tx - 1, ty - 7, tx + w + 1, ty + 7) && drones.free(tx - 1, ty - 7, tx + w + 1, ty + 7))) {
          continue;
        }
        if (boxes.claim(tx - 1, ty - 7, tx + w + 1, ty + 7)) {
          ctx.fillStyle = l.stale ? theme.stale : theme.text;
          haloText(ctx, l.text, tx, ty);
          if (unitPaint.labels.length < 200) { unitPaint.labels.push(l.text); }  // for tests and diagnostics
          return;
        }
      }
    });
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
    ringed.incident = [];
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
      if (inView.has('incident:' + id) && ringable(inc)) { inViewRing(ctx, p, s + 6); ringed.incident.push(id); }
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
    var z = layer._map.getZoom(), boxes = layer.boxes = new Boxes();  // unit labels keep off these
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
        ctx.fillStyle = lost ? DRONE_LOST : theme.droneText;
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
        var seen = inViewSummary(id);
        if (seen) {
          ctx.font = '600 10px "DejaVu Sans Condensed", sans-serif'; ctx.fillStyle = theme.droneText;
          haloText(ctx, seen, p[0] + 14, p[1] + 17);
        }
        var wide = Math.max(textWidth(ctx, text), textWidth(ctx, second || ''), textWidth(ctx, seen || ''));
        boxes.claim(p[0] - 14, p[1] - 16, p[0] + 16 + wide, p[1] + (seen ? 24 : 11));
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

  /* Traffic lights (signalised intersections): a small dark lamp housing with a light, from street level only,
     where a junction is a few dozen pixels across, under the names (a name may cover one; never the reverse).
     A light a responding unit asked for priority at (signalStates, from the picture's `signals`) is drawn from
     district level with its state's colour and a ring, so the way ahead of the unit reads at a glance. */
  var SIGNAL_MIN_ZOOM = 16;
  var SIGNAL_LIT_MIN_ZOOM = 13;
  var signalStates = new Map();  // intersection id -> {state, unit}
  function paintSignals(ctx, layer) {
    var z = layer._map.getZoom(), list = layer.signals || [];
    layer.signalsDrawn = 0; layer.signalsLit = {};
    if (z < SIGNAL_LIT_MIN_ZOOM) { return; }
    var housing = new Path2D(), lamps = new Path2D(), lit = [];
    for (var i = 0; i < list.length; i++) {
      var p = layer.toPoint(list[i].lat, list[i].lon), st = signalStates.get(list[i].id);
      if ((!st && z < SIGNAL_MIN_ZOOM) || !layer.visible(p, 12)) { continue; }
      housing.rect(p[0] - 3, p[1] - 5, 6, 10);
      if (st) { lit.push([p, st]); } else { lamps.moveTo(p[0] + 1.6, p[1]); lamps.arc(p[0], p[1], 1.6, 0, 2 * Math.PI); }
      layer.signalsDrawn += 1;
    }
    ctx.fillStyle = theme.signal.housing; ctx.strokeStyle = theme.signal.edge; ctx.lineWidth = 1;
    ctx.fill(housing); ctx.stroke(housing);
    ctx.fillStyle = theme.signal.lamp;
    ctx.fill(lamps);
    lit.forEach(function (item) {
      var p = item[0], colour = theme.signal[item[1].state] || theme.signal.lamp;
      ctx.beginPath(); ctx.arc(p[0], p[1], 8, 0, 2 * Math.PI);
      ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke();
      ctx.beginPath(); ctx.arc(p[0], p[1], 2.2, 0, 2 * Math.PI);
      ctx.fillStyle = colour; ctx.fill();
      layer.signalsLit[item[1].state] = (layer.signalsLit[item[1].state] || 0) + 1;
    });
  }

  function setSignalStates(list) {
    signalStates = new Map();
    list.forEach(function (s) { signalStates.set(s.id, { state: norm(s.state), unit: s.unit }); });
    layers.labels.redraw();
  }

  /* Basemap names: shown by zoom and rank, most important first, never overlapping one another. */
  function paintLabels(ctx, layer) {
    paintSignals(ctx, layer);
    var z = layer._map.getZoom(), boxes = layer.boxes = new Boxes(), list = layer.sorted || [];
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

  /* `zoom`: the zoom a vector tile is drawn for; the GeoJSON basemap styles at the map's zoom. */
  function roadStyle(feature, zoom) {
    var cls = norm(feature.properties && feature.properties['class']), z = zoom == null ? map.getZoom() : zoom;
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
    buildings: function (feature, zoom) {
      var z = zoom == null ? map.getZoom() : zoom;
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

  /* The style of one vector-tile feature, as Leaflet path options (wf-tiles.js draws them). */
  function tileStyle(layer, properties, zoom) {
    return BASE_STYLE[layer]({ properties: properties }, zoom);
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
    var signals = (data.layers && data.layers.signals && data.layers.signals.features) || [];
    layers.labels.signals = signals.filter(function (f) { return f.geometry && f.geometry.type === 'Point'; })
      .map(function (f) { return { id: f.properties && f.properties.id, lat: f.geometry.coordinates[1], lon: f.geometry.coordinates[0] }; });
    layers.labels.redraw();
    indexStreets(data.layers && data.layers.roads);
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

  /* Footprints stay legible at any size. Drawing: tinted while the footprint covers under a quarter of the
     view; larger, the outline with a third of the tint; larger than the whole view, the outline only, so
     the map under it still reads (recomputed on every move and zoom). Rings: the incidents and units the
     drone desk says a camera sees get a ring only when the footprint is tight, at most FOOTPRINT_RING_MAX_M2
     on the ground (a camera that sees more cannot make out a vehicle) and holding at most
     FOOTPRINT_RING_MAX_ITEMS of them; otherwise the drone's label counts them ("in view: 76 units, 1
     incident") instead of a ring on everything. */
  var FOOTPRINT_TINT_MAX_SHARE = 0.25;
  var FOOTPRINT_RING_MAX_M2 = 250000;
  var FOOTPRINT_RING_MAX_ITEMS = 12;
  var footprints = [];  // [{drone, polygon, lost, layer, share, areaM2, units, incidents, ringing}]

  function footprintShare(poly) {
    var pts = poly.map(function (ll) { return map.latLngToContainerPoint(ll); }), area = 0, size = map.getSize();
    for (var i = 0, j = pts.length - 1; i < pts.length; j = i++) { area += (pts[j].x + pts[i].x) * (pts[j].y - pts[i].y); }
    return Math.abs(area / 2) / Math.max(1, size.x * size.y);
  }

  function groundArea(poly) {  // square metres, on a local flat projection (footprints are a few km at most)
    var kx = 111320 * Math.cos(poly[0][0] * Math.PI / 180), ky = 110574, area = 0;
    for (var i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      area += (poly[j][1] + poly[i][1]) * kx * (poly[j][0] - poly[i][0]) * ky;
    }
    return Math.abs(area / 2);
  }

  function restyleFootprints() {
    footprints.forEach(function (f) {
      var share = footprintShare(f.polygon), tint = f.lost ? 0.06 : 0.14;
      f.share = share;
      f.layer.setStyle({ fillOpacity: share < FOOTPRINT_TINT_MAX_SHARE ? tint : share < 1 ? tint / 3 : 0 });
    });
  }

  /* Which in-view items each footprint holds, and whether it may ring them: on new footprints or a new
     in-view list (the drone desk sends both as they change). */
  function countInView() {
    footprints.forEach(function (f) {
      f.units = 0; f.incidents = 0;
      inView.forEach(function (key) {
        var cut = key.indexOf(':'), kind = key.slice(0, cut), layer = layers[kind + 's'];
        var item = layer && layer.items.get(key.slice(cut + 1));
        if (item && item.lat != null && insidePolygon(item.lat, item.lon, f.polygon)) { f[kind + 's'] += 1; }
      });
      f.ringing = !f.lost && f.areaM2 <= FOOTPRINT_RING_MAX_M2 && f.units + f.incidents <= FOOTPRINT_RING_MAX_ITEMS;
    });
    ['units', 'incidents', 'drones'].forEach(function (n) { layers[n].redraw(); });
  }

  /* Whether an item the drone desk says a camera sees gets its ring: only inside a footprint that rings. */
  function ringable(item) {
    if (!item || item.lat == null) { return false; }
    if (!footprints.length) { return true; }  // no footprint drawn: nothing to compare the ring with
    for (var i = 0; i < footprints.length; i++) {
      var f = footprints[i];
      if (f.ringing && insidePolygon(item.lat, item.lon, f.polygon)) { return true; }
    }
    return false;
  }

  /* "in view: 76 units, 1 incident" for a drone whose footprint is too big to ring what it holds. */
  function inViewSummary(droneId) {
    var units = 0, incidents = 0;
    footprints.forEach(function (f) {
      if (f.drone === droneId && !f.ringing && !f.lost) { units += f.units; incidents += f.incidents; }
    });
    if (!units && !incidents) { return ''; }
    var parts = [];
    if (units) { parts.push(units + (units === 1 ? ' unit' : ' units')); }
    if (incidents) { parts.push(incidents + (incidents === 1 ? ' incident' : ' incidents')); }
    return 'in view: ' + parts.join(', ');
  }

  function setFootprints(list) {
    var g = replaceGroup('footprints');
    footprints = list.map(function (f) {
      var colour = f.lost ? DRONE_LOST : DRONE_COLOUR;
      var layer = L.polygon(f.polygon, {
        renderer: areaRenderer, color: colour, weight: 2, fillColor: colour, fillOpacity: f.lost ? 0.06 : 0.14,
        dashArray: f.lost ? '6 4' : null, interactive: false
      }).addTo(g);
      return { drone: String(f.drone), polygon: f.polygon, lost: !!f.lost, layer: layer, share: 1,
               areaM2: groundArea(f.polygon), units: 0, incidents: 0, ringing: false };
    });
    restyleFootprints();
    countInView();
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

  /* The place a search found (an address, a street, a landmark): a pin with its name until the next search. */
  var pinData = null, pinLayer = null;
  function setPin(data) {
    if (pinLayer) { map.removeLayer(pinLayer); pinLayer = null; }
    pinData = data || null;
    if (!pinData) { return; }
    pinLayer = L.featureGroup().addTo(map);
    L.circleMarker([pinData.lat, pinData.lon], {
      renderer: areaRenderer, radius: 9, color: theme.selection, weight: 3, fill: true, fillOpacity: 0.25,
      fillColor: theme.selection, interactive: false
    }).bindTooltip(pinData.label || '', { permanent: true, direction: 'right', offset: [12, 0], className: 'wf-pin-label' })
      .addTo(pinLayer);
  }

  function setInView(list) {
    inView = new Set(list.map(function (it) { return it.kind + ':' + it.id; }));
    countInView();
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

  /* The way ahead of each unit driving under signal priority: a dashed line to its incident, under the lights. */
  function setRoutes(routes) {
    var g = replaceGroup('routes');
    routes.forEach(function (r) {
      L.polyline(r.points, {
        renderer: areaRenderer, color: theme.signal.granted, weight: 3, opacity: 0.75, dashArray: '8 6',
        interactive: false
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
      if (layer === layers.units && (!cur || 'kind' in d || 'status' in d || 'agency' in d)) { unitLooks.delete(id); }
    }
    layer.redraw();
  }

  function remove(layer, ids) {
    ids.forEach(function (id) { layer.items.delete(String(id)); if (layer === layers.units) { unitLooks.delete(String(id)); } });
    layer.redraw();
  }

  function applyCommand(cmd) {
    var name = cmd[0];
    if (name === 'select') {
      wf.select(cmd[1], cmd[2]);
    } else if (name === 'fit') {
      map.fitBounds(cmd[1], { padding: [20, 20] });
    } else if (name === 'center') {
      // A jump, not a glide: a search or a "centre on" lands at once, and a select that follows sees the
      // final view (an animated pan still under way would make it pan again from halfway).
      map.setView([cmd[1], cmd[2]], cmd[3] == null ? map.getZoom() : cmd[3], { animate: false });
    } else if (name === 'theme') {
      setTheme(cmd[1]);
    } else if (name === 'clock') {
      clock = { now: cmd[1], at: performance.now() };
      layers.units.redraw();
    } else if (name === 'pin') {
      setPin(cmd[1]);
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
    if (b.signalStates) { setSignalStates(b.signalStates); }
    if (b.routes) { setRoutes(b.routes); }
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
    if (cfg.vectorTiles) {
      basemap.tiles = new window.WfVectorTiles(cfg.vectorTiles, tileStyle).addTo(map);
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
    if (basemap.tiles) { basemap.tiles.redraw(); }
    ['units', 'incidents', 'drones'].forEach(function (n) { layers[n].redraw(); });
  }

  /* ---------- selection, context menu, measuring ---------- */

  wf.select = function (kind, id) {
    selection = { kind: kind, id: id == null ? null : String(id) };
    ['units', 'incidents', 'drones'].forEach(function (n) { layers[n].redraw(); });
    var layer = { unit: layers.units, incident: layers.incidents, drone: layers.drones }[kind];
    var item = layer && layer.items.get(selection.id);
    if (kind === 'unit' && item && !(spread && spread.ids.indexOf(selection.id) >= 0)) {
      closeSpread(); spreadFor = selection.id;
    }
    if (item && !map.getBounds().pad(-0.1).contains([item.lat, item.lon])) { map.panTo([item.lat, item.lon]); }
  };

  function pointAt(cp) {
    var order = [['incident', layers.incidents], ['drone', layers.drones], ['unit', layers.units]];
    for (var i = 0; i < order.length; i++) {
      var id = order[i][1].hit(cp);
      if (id != null) { return id.group ? ['group', id.group] : [order[i][0], id]; }
    }
    return null;
  }

  /* A click on a group draws its members apart around the point they share; a click elsewhere, Esc or a
     zoom closes it. */
  function spreadGroup(ids) {
    var first = layers.units.items.get(ids[0]);
    spread = { lat: first.lat, lon: first.lon, ids: ids.slice() };
    layers.units.redraw();
  }
  function closeSpread() {
    if (spread) { spread = null; layers.units.redraw(); }
  }

  var menu = null;
  var canIssueAlerts = false;  /* supervisors: the menu offers an alert around the clicked point */
  function hideMenu() { if (menu) { menu.remove(); menu = null; } }

  function showMenu(e) {
    hideMenu();
    menu = L.DomUtil.create('div', 'wf-menu', map.getContainer());
    var head = L.DomUtil.create('div', 'wf-menu-head', menu);
    var place = L.DomUtil.create('div', 'wf-menu-place', head);
    var cross = L.DomUtil.create('div', 'wf-menu-cross', head);
    L.DomUtil.create('div', 'wf-menu-coords', head).textContent =
      e.latlng.lat.toFixed(5) + ', ' + e.latlng.lng.toFixed(5);
    place.textContent = '…';
    describePlace(e.latlng, function (found) {
      place.textContent = found.address;
      cross.textContent = found.cross;
      place.style.display = found.address ? '' : 'none';
      cross.style.display = found.cross ? '' : 'none';
    });
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
    menu.style.left = Math.max(0, Math.min(e.containerPoint.x, size.x - 330)) + 'px';
    menu.style.top = Math.max(0, Math.min(e.containerPoint.y, size.y - 70 - 26 * items.length)) + 'px';
  }

  /* ---------- where a point is: nearest address and cross streets ---------- */

  /* Named drivable streets of the basemap, by name, for cross streets: [{name, key, lines: [[[lat, lon]]]}]. */
  var streets = [];
  function indexStreets(fc) {
    var byKey = new Map();
    ((fc && fc.features) || []).forEach(function (f) {
      var props = f.properties || {}, cls = norm(props['class']), g = f.geometry;
      if (!props.name || FOOT_ROADS[cls] || !g) { return; }
      var lines = g.type === 'LineString' ? [g.coordinates] : g.type === 'MultiLineString' ? g.coordinates : [];
      var key = norm(props.name), road = byKey.get(key);
      if (!road) { road = { name: String(props.name), key: key, lines: [] }; byKey.set(key, road); }
      lines.forEach(function (line) {
        road.lines.push(line.map(function (c) { return [c[1], c[0]]; }));
      });
    });
    streets = Array.from(byKey.values());
  }

  function segDistance(p, a, b) {  // metres from p to segment ab (all in local metres)
    var dx = b[0] - a[0], dy = b[1] - a[1], len = dx * dx + dy * dy;
    var t = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len)) : 0;
    return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
  }

  /* Where two segments meet (or nearly: an end within 3 m of the other), else null. */
  function segMeet(a, b, c, d) {
    var rx = b[0] - a[0], ry = b[1] - a[1], sx = d[0] - c[0], sy = d[1] - c[1], den = rx * sy - ry * sx;
    if (den !== 0) {
      var t = ((c[0] - a[0]) * sy - (c[1] - a[1]) * sx) / den, u = ((c[0] - a[0]) * ry - (c[1] - a[1]) * rx) / den;
      if (t >= 0 && t <= 1 && u >= 0 && u <= 1) { return [a[0] + t * rx, a[1] + t * ry]; }
    }
    var ends = [[c, a, b], [d, a, b], [a, c, d], [b, c, d]];
    for (var i = 0; i < 4; i++) { if (segDistance(ends[i][0], ends[i][1], ends[i][2]) < 3) { return ends[i][0]; } }
    return null;
  }

  /* The street a point is on (the address's street when it passes within 80 m, else the nearest named
     street) and the nearest street crossing it on either side of the point. */
  function crossStreets(ll, preferred) {
    var kx = 111320 * Math.cos(ll.lat * Math.PI / 180), ky = 110574, origin = [0, 0], pref = norm(preferred);
    var near = [];
    streets.forEach(function (road) {
      var segs = [], d = Infinity;
      road.lines.forEach(function (line) {
        for (var i = 1; i < line.length; i++) {
          var a = [(line[i - 1][1] - ll.lng) * kx, (line[i - 1][0] - ll.lat) * ky];
          var b = [(line[i][1] - ll.lng) * kx, (line[i][0] - ll.lat) * ky], sd = segDistance(origin, a, b);
          if (sd < 600) { segs.push([a, b, sd]); d = Math.min(d, sd); }
        }
      });
      if (segs.length) { near.push({ name: road.name, key: road.key, segs: segs, d: d }); }
    });
    var own = near.filter(function (r) { return pref && r.key === pref && r.d < 80; })[0] || null;
    if (!own) { near.forEach(function (r) { if (r.d < 80 && (!own || r.d < own.d)) { own = r; } }); }
    if (!own) { return { street: '', text: '' }; }
    var closest = own.segs.reduce(function (m, sg) { return sg[2] < m[2] ? sg : m; });
    var dir = [closest[1][0] - closest[0][0], closest[1][1] - closest[0][1]];
    var sides = {};
    near.forEach(function (road) {
      if (road.key === own.key) { return; }
      road.segs.forEach(function (sg) {
        own.segs.forEach(function (o) {
          var x = segMeet(sg[0], sg[1], o[0], o[1]);
          if (!x) { return; }
          var side = x[0] * dir[0] + x[1] * dir[1] >= 0 ? 'ahead' : 'behind', dist = Math.hypot(x[0], x[1]);
          if (!sides[side] || dist < sides[side].dist) { sides[side] = { name: road.name, dist: dist }; }
        });
      });
    });
    var list = [sides.behind, sides.ahead].filter(Boolean).sort(function (a, b) { return a.dist - b.dist; });
    var on = own.key !== pref ? 'on ' + own.name + ', ' : '', text = '';
    if (list.length && list[0].dist < 20) {
      text = 'at the corner of ' + own.name + ' and ' + list[0].name;
    } else if (list.length === 2 && list[0].name !== list[1].name) {
      text = on + 'between ' + list[0].name + ' and ' + list[1].name;
    } else if (list.length) {
      text = on + 'near ' + list[0].name;
    } else if (on) {
      text = 'on ' + own.name;
    }
    return { street: own.name, text: text };
  }

  /* The nearest address comes from the console's geocoder over the bridge; the cross streets from the
     basemap's streets here. `done({address, cross})`. */
  function describePlace(ll, done) {
    function finish(found) {
      var xs = crossStreets(ll, found && found.street);
      done({ address: (found && found.address) || '', cross: xs.text });
    }
    if (bridge && bridge.jsDescribe) {
      bridge.jsDescribe(ll.lat, ll.lng, function (json) {
        var found = null;
        try { found = json ? JSON.parse(json) : null; } catch (err) { found = null; }
        finish(found);
      });
    } else {
      finish(null);
    }
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
    var hit = pointAt(e.containerPoint);
    if (hit && hit[0] === 'group') { spreadGroup(hit[1]); return; }
    if (!(hit && hit[0] === 'unit' && spread && spread.ids.indexOf(hit[1]) >= 0)) { closeSpread(); }
    hit = hit || cameraAt(e.containerPoint) || areaAt(e.latlng);
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
    if (name === "signals") { return JSON.stringify((layers.labels.signals || []).length); }
    var l = basemap.layers[name] || areas[name];
    return JSON.stringify(l ? l.getLayers().length : 0);
  };
  wf.signalsDrawn = function () { return JSON.stringify(layers.labels.signalsDrawn || 0); };
  wf.signalsLit = function () { return JSON.stringify(layers.labels.signalsLit || {}); };
  wf.tileStats = function () { return JSON.stringify(basemap.tiles ? basemap.tiles.stats : null); };
  wf.stats = function () {
    var c = map.getCenter();
    return JSON.stringify(L.extend({ theme: themeName, zoom: map.getZoom(), center: [c.lat, c.lng], selection: selection },
      stats));
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
  /* What the last paint of the units drew: symbol counts by shape+letter, stale, groups, spread, labels. */
  wf.unitPaint = function () { return JSON.stringify(unitPaint); };
  /* How one unit was drawn at the last paint: its symbol, staleness and the group it is in. */
  wf.unitDrawn = function (id) {
    var u = layers.units.items.get(String(id)), g = unitDrawn.get(String(id));
    if (!u || !g) { return JSON.stringify(null); }
    if (Array.isArray(g)) { g = { p: g, ids: [String(id)], topId: String(id) }; }  // a dot
    var age = staleAge(u, clockNow()), sym = lookOf(u, String(id)).sym;
    return JSON.stringify({ shape: sym[0], letter: sym[1], stale: age >= 0, age: age >= 0 ? ageText(age) : null,
                            group: g.ids.length, spread: !!g.spread, top: g.topId === String(id), at: g.p });
  };
  wf.inViewSummary = function (drone) { return JSON.stringify(inViewSummary(String(drone))); };
  wf.ringed = function () { return JSON.stringify({ unit: ringed.unit.slice().sort(), incident: ringed.incident.slice().sort() }); };
  wf.openMenuAt = function (lat, lon) {
    showMenu({ latlng: L.latLng(lat, lon), containerPoint: map.latLngToContainerPoint([lat, lon]) });
    return JSON.stringify(true);
  };
  wf.menuHead = function () {
    var head = menu && menu.querySelector('.wf-menu-head');
    return JSON.stringify(head ? Array.prototype.map.call(head.children, function (el) {
      return el.style.display === 'none' ? '' : el.textContent;
    }).filter(Boolean) : null);
  };
  wf.pin = function () { return JSON.stringify(pinData); };

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
    map.on('zoomend moveend resize', restyleFootprints);
    map.on('zoomstart', closeSpread);
    L.DomEvent.on(document, 'keydown', function (e) {
      if (e.key === 'Escape') { hideMenu(); measure.stop(); closeSpread(); }
    });
    /* Ages of stale positions keep counting without any new data. */
    setInterval(function () { if (layers.units.items.size) { layers.units.redraw(); } }, 5000);
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
