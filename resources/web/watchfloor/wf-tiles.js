/*
 * Watchfloor vector basemap: Mapbox Vector Tiles (built at city import, served from MBTiles over wf://)
 * drawn on one canvas per 256 px tile.
 *
 * Beyond the tiles' deepest zoom the deepest tile is re-drawn at the display zoom (clipped to its part),
 * so streets stay sharp at z19 instead of being a stretched bitmap. Decoded tiles are kept (LRU), so zooming
 * in, panning back or switching theme re-draws without reading or decoding anything again. Features of one
 * style are gathered into a few Path2Ds, each filled or stroked at once. Styles come from the page (wf-map.js) as
 * Leaflet path options, the same ones the GeoJSON basemap uses: style(layerName, properties, zoom).
 */
(function () {
  'use strict';

  var LAYER_ORDER = ['water', 'parks', 'buildings', 'rail', 'roads'];
  var CACHE_TILES = 256;
  /* Features per Path2D: Skia fills one path of thousands of buildings (a dense city centre) far slower
     than the same shapes in paths of a few hundred (Porto's z14 buildings: 430 ms in one path). */
  var PATH_FEATURES = 256;

  /* ---------- decoding (the vector tile protobuf, read with Pbf) ---------- */

  function readValue(pbf) {
    var value = null, end = pbf.readVarint() + pbf.pos;
    while (pbf.pos < end) {
      var tag = pbf.readVarint() >> 3;
      value = tag === 1 ? pbf.readString() : tag === 2 ? pbf.readFloat() : tag === 3 ? pbf.readDouble() :
        tag === 4 ? pbf.readVarint64() : tag === 5 ? pbf.readVarint() : tag === 6 ? pbf.readSVarint() :
          tag === 7 ? pbf.readBoolean() : null;
    }
    return value;
  }

  function readFeature(tag, f, pbf) {
    if (tag === 2) { f.tags = pbf.readPackedVarint(); }
    else if (tag === 3) { f.type = pbf.readVarint(); }
    else if (tag === 4) { f.geometry = pbf.readPackedVarint(); }
  }

  function readLayer(tag, layer, pbf) {
    if (tag === 1) { layer.name = pbf.readString(); }
    else if (tag === 5) { layer.extent = pbf.readVarint(); }
    else if (tag === 2) { layer.features.push(pbf.readMessage(readFeature, { type: 0, tags: [], geometry: [] })); }
    else if (tag === 3) { layer.keys.push(pbf.readString()); }
    else if (tag === 4) { layer.values.push(readValue(pbf)); }
  }

  /* Geometry commands to rings/lines of [x0, y0, x1, y1, ...] in tile units; parts.box = [x0, y0, x1, y1]. */
  function geometry(cmds) {
    var parts = [], part = null, x = 0, y = 0, i = 0, box = [Infinity, Infinity, -Infinity, -Infinity];
    while (i < cmds.length) {
      var c = cmds[i++], op = c & 7, n = c >> 3;
      if (op === 1 || op === 2) {
        for (var k = 0; k < n; k++) {
          x += (cmds[i] >>> 1) ^ -(cmds[i] & 1);
          y += (cmds[i + 1] >>> 1) ^ -(cmds[i + 1] & 1);
          i += 2;
          if (op === 1) { part = []; parts.push(part); }
          part.push(x, y);
          if (x < box[0]) { box[0] = x; } if (x > box[2]) { box[2] = x; }
          if (y < box[1]) { box[1] = y; } if (y > box[3]) { box[3] = y; }
        }
      }
    }
    parts.box = box;
    return parts;
  }

  /* {layerName: {extent, features: [{type, props, parts}]}} */
  function decode(buffer) {
    var tile = {};
    new Pbf(new Uint8Array(buffer)).readFields(function (tag, t, pbf) {
      if (tag !== 3) { return; }
      var l = pbf.readMessage(readLayer, { name: '', extent: 4096, keys: [], values: [], features: [] });
      tile[l.name] = {
        extent: l.extent,
        features: l.features.map(function (f) {
          var props = {};
          for (var i = 0; i + 1 < f.tags.length; i += 2) { props[l.keys[f.tags[i]]] = l.values[f.tags[i + 1]]; }
          return { type: f.type, props: props, parts: geometry(f.geometry) };
        })
      };
    }, tile);
    return tile;
  }

  /* The Fetch API refuses custom schemes such as wf://; XMLHttpRequest serves them. */
  function load(url) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open('GET', url);
      xhr.responseType = 'arraybuffer';
      xhr.onload = function () { if (xhr.response && xhr.response.byteLength) { resolve(xhr.response); } else { reject(); } };
      xhr.onerror = reject;
      xhr.send();
    });
  }

  /* ---------- the layer ---------- */

  window.WfVectorTiles = L.GridLayer.extend({
    options: { pane: 'wfBase', updateWhenZooming: false, keepBuffer: 3 },

    /* cfg: {url: 'wf://mbtiles/<source>/{z}/{x}/{y}', minZoom, maxZoom (of the tiles), bounds} */
    initialize: function (cfg, style) {
      L.GridLayer.prototype.initialize.call(this, {
        minNativeZoom: cfg.minZoom, maxZoom: 19, minZoom: 0, bounds: cfg.bounds ? L.latLngBounds(cfg.bounds) : null
      });
      this._url = cfg.url;
      this._sourceMaxZoom = cfg.maxZoom;
      this._style = style;
      this._styles = new Map();  /* "layer|class|kind|zoom" -> style: features of a class look alike */
      this._cache = new Map();  /* "z/x/y" -> Promise of a decoded tile (null when there is none) */
      this.stats = { fetched: 0, missing: 0, decodeMs: 0, drawn: 0, drawMsTotal: 0, drawMsMax: 0, firstLoadMs: null };
      this.on('load', function () {
        if (this.stats.firstLoadMs === null) { this.stats.firstLoadMs = performance.now(); }
      }, this);
    },

    _source: function (z, x, y) {
      var key = z + '/' + x + '/' + y, self = this, hit = this._cache.get(key);
      if (hit) { this._cache.delete(key); this._cache.set(key, hit); return hit; }  /* most recent last */
      var url = L.Util.template(this._url, { z: z, x: x, y: y });
      var p = load(url).then(function (buffer) {
        var t0 = performance.now(), tile = decode(buffer);
        self.stats.fetched += 1; self.stats.decodeMs += performance.now() - t0;
        return tile;
      }).catch(function () { self.stats.missing += 1; return null; });  /* none there, or unreadable: blank */
      this._cache.set(key, p);
      if (this._cache.size > CACHE_TILES) { this._cache.delete(this._cache.keys().next().value); }
      return p;
    },

    /* Re-draw every tile (a theme change): styles are looked up again, decoded tiles are kept. */
    redraw: function () {
      this._styles.clear();
      return L.GridLayer.prototype.redraw.call(this);
    },

    _styleOf: function (layer, props, zoom) {
      var key = layer + '|' + (props['class'] || '') + '|' + (props.kind || '') + '|' + zoom;
      var s = this._styles.get(key);
      if (!s) {
        s = L.extend({}, this._style(layer, props, zoom));
        s.fill = s.fill !== false && s.fillOpacity !== 0;
        s.stroke = s.stroke !== false && s.opacity !== 0 && s.weight > 0;
        s.key = [s.fill ? s.fillColor : '', s.stroke ? s.color : '', s.weight, s.dashArray || '', s.fillOpacity,
          s.opacity].join('|');
        this._styles.set(key, s);
      }
      return s;
    },

    createTile: function (coords, done) {
      var size = this.getTileSize(), ratio = window.devicePixelRatio || 1;
      var canvas = document.createElement('canvas');
      canvas.width = size.x * ratio; canvas.height = size.y * ratio;
      var dz = Math.max(0, coords.z - this._sourceMaxZoom), self = this;
      var sx = coords.x >> dz, sy = coords.y >> dz;
      this._source(coords.z - dz, sx, sy).then(function (tile) {
        if (tile) {
          var scale = 1 << dz;
          self._draw(canvas.getContext('2d'), tile, coords.z, ratio * size.x * scale,
            (coords.x - sx * scale) * size.x * ratio, (coords.y - sy * scale) * size.y * ratio, ratio);
        }
        done(null, canvas);
      });
      return canvas;
    },

    /* Draws the tile's features scaled to `px` device pixels across, shifted by (ox, oy); an over-zoomed
       tile shows a part of its source tile, so features outside that part (plus a stroke's margin) are skipped. */
    _draw: function (ctx, tile, zoom, px, ox, oy, ratio) {
      var t0 = performance.now(), self = this, side = ctx.canvas.width;
      LAYER_ORDER.forEach(function (name) {
        var layer = tile[name];
        if (!layer) { return; }
        var k = px / layer.extent, groups = new Map(), m = 16 * ratio / k;
        var x0 = ox / k - m, y0 = oy / k - m, x1 = (ox + side) / k + m, y1 = (oy + side) / k + m;
        layer.features.forEach(function (f) {
          var b = f.parts.box;
          if (b[2] < x0 || b[0] > x1 || b[3] < y0 || b[1] > y1) { return; }
          var s = self._styleOf(name, f.props, zoom), fill = f.type === 3 && s.fill;
          if (!fill && !s.stroke) { return; }
          var key = (fill ? 'F' : 'L') + s.key, g = groups.get(key);
          if (!g) { g = { s: s, fill: fill, stroke: s.stroke, paths: [], n: 0 }; groups.set(key, g); }
          if (g.n++ % PATH_FEATURES === 0) { g.paths.push(new Path2D()); }
          var path = g.paths[g.paths.length - 1];
          f.parts.forEach(function (part) {
            path.moveTo(part[0] * k - ox, part[1] * k - oy);
            for (var i = 2; i < part.length; i += 2) { path.lineTo(part[i] * k - ox, part[i + 1] * k - oy); }
            if (f.type === 3) { path.closePath(); }
          });
        });
        groups.forEach(function (g) {
          var s = g.s;
          if (g.fill) {
            ctx.globalAlpha = s.fillOpacity == null ? 0.2 : s.fillOpacity;
            ctx.fillStyle = s.fillColor || s.color;
            g.paths.forEach(function (path) { ctx.fill(path); });
          }
          if (g.stroke) {
            ctx.globalAlpha = s.opacity == null ? 1 : s.opacity;
            ctx.strokeStyle = s.color;
            ctx.lineWidth = (s.weight == null ? 3 : s.weight) * ratio;
            ctx.lineCap = s.lineCap || 'round'; ctx.lineJoin = s.lineJoin || 'round';
            ctx.setLineDash(s.dashArray ? String(s.dashArray).split(/[ ,]+/).map(function (v) { return v * ratio; }) : []);
            g.paths.forEach(function (path) { ctx.stroke(path); });
          }
        });
      });
      ctx.globalAlpha = 1;
      var dt = performance.now() - t0, st = this.stats;
      st.drawn += 1; st.drawMsTotal += dt; st.drawMsMax = Math.max(st.drawMsMax, dt);
    }
  });
})();
