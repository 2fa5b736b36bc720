/* The operator dashboard, kept live without reloading.
 *
 * - The page arrives rendered; its state (the same JSON as /dashboard/state/) is embedded.
 * - /ws/mqtt/status/ pushes one status_update per connection change (only the changed fields); each
 *   is applied to its row at once and the totals recomputed.
 * - On every (re)connection of the socket the whole state is re-read, so nothing that happened while
 *   the socket was away is missed; updates that arrive during that read are replayed on top of it.
 *   Changes that write log rows (status, heartbeat state, errors) re-read it too, for the event list.
 * - The socket reconnects by itself with a growing, jittered delay; the indicator says which.
 * - Start / stop / restart post the row's form with fetch (CSRF token included); without the script
 *   the same forms post and the server redirects back.
 * Plain script, no build step, no dependency.
 */
(function () {
    "use strict";

    const root = document.getElementById("ops");
    const embedded = document.getElementById("dashboard-state");
    if (!root || !embedded) {
        return;
    }

    const STATUS_LABELS = {
        disconnected: "Disconnected",
        connecting: "Connecting",
        connected: "Connected",
        error: "Error",
        disabled: "Disabled",
    };
    const HEARTBEAT_LABELS = { unknown: "Unknown", ok: "OK", late: "Late", missing: "Missing" };
    const ROW_FIELDS = [
        "status",
        "status_changed_at",
        "last_connected_at",
        "connection_errors",
        "error_message",
        "last_heartbeat_at",
        "heartbeat_state",
        "reported_heartbeat_interval",
    ];
    // Changes the worker logs (connection log rows): re-read the event list after them.
    const LOGGED_FIELDS = ["status", "heartbeat_state", "error_message"];
    const REFRESH_DEBOUNCE_MS = 400;
    const REFRESH_MAX_WAIT_MS = 2000;
    const PERIODIC_REFRESH_MS = 15000; // the worker's liveness has no push event
    const PING_EVERY_MS = 20000;
    const PONG_TIMEOUT_MS = 10000;
    const MAX_BACKOFF_MS = 30000;

    const el = {
        live: document.getElementById("live"),
        worker: document.getElementById("worker"),
        workerAnnounce: document.getElementById("worker-announce"),
        workerHelp: document.getElementById("worker-help"),
        flash: document.getElementById("flash"),
        rows: document.getElementById("connection-rows"),
        rowsWrap: document.getElementById("connections-wrap"),
        rowsEmpty: document.getElementById("connections-empty"),
        logs: document.getElementById("log-rows"),
        logsWrap: document.getElementById("log-wrap"),
        logsEmpty: document.getElementById("log-empty"),
        rowTemplate: document.getElementById("row-template"),
        logTemplate: document.getElementById("log-template"),
    };

    const connections = new Map(); // site id -> row data
    const trs = new Map(); // site id -> <tr>
    let worker = null;
    let workerKind = null; // none | alive | down, as last shown
    let sensorsElsewhere = { total: 0, online: 0 }; // sensors of sites without a connection
    let clockOffset = 0; // server clock minus this browser's, in ms

    // ------------------------------------------------------------------ time

    function serverNow() {
        return Date.now() + clockOffset;
    }

    function syncClock(serverTime) {
        const t = Date.parse(serverTime);
        if (!Number.isNaN(t)) {
            clockOffset = t - Date.now();
        }
    }

    function span(seconds) {
        if (seconds < 60) {
            return seconds + " s";
        }
        if (seconds < 3600) {
            return Math.floor(seconds / 60) + " min";
        }
        if (seconds < 86400) {
            const hours = Math.floor(seconds / 3600);
            const minutes = Math.floor((seconds % 3600) / 60);
            return minutes ? hours + " h " + minutes + " min" : hours + " h";
        }
        return Math.floor(seconds / 86400) + " d";
    }

    function secondsSince(iso) {
        const t = Date.parse(iso);
        return Number.isNaN(t) ? null : Math.floor((serverNow() - t) / 1000);
    }

    function ageText(iso, style) {
        if (!iso) {
            return style === "for" ? "" : "never";
        }
        const seconds = secondsSince(iso);
        if (seconds === null) {
            return "";
        }
        if (seconds < 1) {
            return style === "for" ? "for <1 s" : "just now";
        }
        return style === "for" ? "for " + span(seconds) : span(seconds) + " ago";
    }

    function pad(n) {
        return String(n).padStart(2, "0");
    }

    function localTime(iso) {
        const d = new Date(iso);
        if (Number.isNaN(d.getTime())) {
            return "";
        }
        const time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
        const today = new Date();
        if (d.toDateString() === today.toDateString()) {
            return time;
        }
        return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
    }

    function fullTime(iso) {
        const d = new Date(iso);
        return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
    }

    function setTime(node, iso, style) {
        node.setAttribute("datetime", iso || "");
        node.title = iso ? fullTime(iso) : "";
        node.textContent = ageText(iso, style);
    }

    // Every second: the ages, the worker's liveness and the reconnection countdown.
    function tick() {
        root.querySelectorAll("time[data-tick]").forEach(function (node) {
            const text = ageText(node.getAttribute("datetime"), node.dataset.tick);
            if (node.textContent !== text) {
                node.textContent = text;
            }
        });
        renderWorker();
        renderLive();
    }

    // ------------------------------------------------------------------ rows

    function field(scope, name) {
        return scope.querySelector('[data-field="' + name + '"]');
    }

    function pendingOf(row) {
        const disabled = row.status === "disabled";
        if (!row.enabled && !disabled) {
            return "stopping";
        }
        if (row.enabled && disabled) {
            return "starting";
        }
        return "";
    }

    function fillRow(tr, row) {
        tr.className = "conn conn--" + row.status + (tr.classList.contains("is-busy") ? " is-busy" : "");
        tr.dataset.siteId = row.site_id;
        tr.dataset.connectionId = row.id;

        const link = field(tr, "site-link");
        link.href = root.dataset.changeUrl.replace("/0/", "/" + row.id + "/");
        field(tr, "site-name").textContent = row.site_name;
        field(tr, "site-code").textContent = row.site_code;
        field(tr, "broker").textContent = row.broker;
        field(tr, "tls").hidden = !row.tls;

        const status = field(tr, "status");
        status.className = "badge badge--" + row.status;
        status.textContent = STATUS_LABELS[row.status] || row.status;
        setTime(field(tr, "status-age"), row.status_changed_at, "for");
        const pending = pendingOf(row);
        const pendingNode = field(tr, "pending");
        pendingNode.hidden = !pending;
        pendingNode.textContent = pending ? pending + "…" : "";

        const heartbeat = field(tr, "heartbeat-state");
        heartbeat.className = "badge badge--hb-" + row.heartbeat_state;
        heartbeat.textContent = HEARTBEAT_LABELS[row.heartbeat_state] || row.heartbeat_state;
        setTime(field(tr, "heartbeat-age"), row.last_heartbeat_at, "ago");

        const counts = row.sensor_counts || {};
        field(tr, "sensors-online").textContent = counts.online || 0;
        field(tr, "sensors-total").textContent = counts.total || 0;
        const stale = field(tr, "sensors-stale");
        stale.hidden = !counts.stale;
        stale.textContent = "· " + (counts.stale || 0) + " stale";

        const errors = field(tr, "errors");
        errors.textContent = row.connection_errors;
        errors.className = "errors" + (row.connection_errors ? " errors--some" : "");
        const message = field(tr, "error-message");
        message.textContent = row.error_message || "";
        message.title = row.error_message || "";

        const enabled = field(tr, "enabled");
        enabled.className = "enabled enabled--" + (row.enabled ? "on" : "off");
        enabled.textContent = row.enabled ? "Yes" : "No";

        tr.querySelectorAll("form.action-form").forEach(function (form) {
            const button = form.querySelector("button");
            const action = button.dataset.action;
            form.action = root.dataset.controlUrl.replace("/0/start/", "/" + row.id + "/" + action + "/");
            button.setAttribute("aria-label", button.textContent.trim() + " " + row.site_name);
            button.disabled = (action === "start" && row.enabled) || (action === "stop" && !row.enabled);
        });
    }

    function rowFor(siteId) {
        let tr = trs.get(siteId);
        if (!tr) {
            tr = el.rowTemplate.content.firstElementChild.cloneNode(true);
            trs.set(siteId, tr);
        }
        return tr;
    }

    function flashRow(tr) {
        tr.classList.remove("is-updated");
        void tr.offsetWidth; // restart the animation
        tr.classList.add("is-updated");
    }

    // ------------------------------------------------------------------ totals, worker, logs

    function renderTotals() {
        const totals = { connections: 0, active: 0, sensors: sensorsElsewhere.total, online_sensors: sensorsElsewhere.online };
        connections.forEach(function (row) {
            totals.connections += 1;
            totals.active += row.status === "connected" ? 1 : 0;
            totals.sensors += (row.sensor_counts && row.sensor_counts.total) || 0;
            totals.online_sensors += (row.sensor_counts && row.sensor_counts.online) || 0;
        });
        root.querySelectorAll("[data-total]").forEach(function (node) {
            const text = String(totals[node.dataset.total]);
            if (node.textContent !== text) {
                node.textContent = text;
            }
        });
    }

    function renderWorker() {
        const text = field(el.worker, "worker-text");
        let kind;
        let message;
        if (!worker) {
            kind = "none";
            message = "No MQTT worker has reported yet";
        } else {
            const seconds = secondsSince(worker.last_seen_at);
            const alive = seconds !== null && seconds <= worker.stale_after;
            kind = alive ? "alive" : "down";
            const running = worker.connections + (worker.connections === 1 ? " connection" : " connections");
            message = alive
                ? "Worker alive, last tick " + ageText(worker.last_seen_at, "ago") + " · running " + running
                : "Worker down since " + localTime(worker.last_seen_at) + " (last tick " + ageText(worker.last_seen_at, "ago") + ")";
            el.worker.title = worker.hostname + " pid " + worker.pid + ", started " + fullTime(worker.started_at);
        }
        if (workerKind !== null && kind !== workerKind) {
            // Announced once per change (the visible text ticks every second and is not a live region).
            el.workerAnnounce.textContent = kind === "alive" ? "The MQTT worker is alive" : "The MQTT worker is down";
        }
        workerKind = kind;
        el.worker.className = "signal worker worker--" + kind;
        el.workerHelp.hidden = kind !== "none";
        if (text.textContent !== message) {
            text.textContent = message;
        }
    }

    function renderLogs(logs) {
        const fragment = document.createDocumentFragment();
        logs.forEach(function (log) {
            const tr = el.logTemplate.content.firstElementChild.cloneNode(true);
            tr.className = "log log--" + log.level;
            const time = field(tr, "time");
            time.setAttribute("datetime", log.timestamp);
            time.textContent = localTime(log.timestamp);
            time.title = fullTime(log.timestamp);
            field(tr, "site-name").textContent = log.site_name;
            field(tr, "site-code").textContent = log.site_code;
            const event = field(tr, "event");
            event.className = "event event--" + log.level;
            event.textContent = log.event;
            field(tr, "message").textContent = log.message;
            const actor = field(tr, "actor");
            actor.textContent = "";
            if (log.actor) {
                actor.textContent = log.actor;
            } else {
                const quiet = document.createElement("span");
                quiet.className = "quiet";
                quiet.textContent = "system";
                actor.appendChild(quiet);
            }
            fragment.appendChild(tr);
        });
        el.logs.replaceChildren(fragment);
        el.logsWrap.hidden = logs.length === 0;
        el.logsEmpty.hidden = logs.length !== 0;
    }

    // ------------------------------------------------------------------ applying state and updates

    function applyState(state) {
        syncClock(state.server_time);
        const seen = new Set();
        const fragment = document.createDocumentFragment();
        let inRows = { total: 0, online: 0 };
        state.connections.forEach(function (row) {
            seen.add(row.site_id);
            connections.set(row.site_id, row);
            const tr = rowFor(row.site_id);
            fillRow(tr, row);
            fragment.appendChild(tr); // moves existing rows into the server's order
            inRows.total += row.sensor_counts.total;
            inRows.online += row.sensor_counts.online;
        });
        Array.from(connections.keys()).forEach(function (siteId) {
            if (!seen.has(siteId)) {
                connections.delete(siteId);
                trs.delete(siteId);
            }
        });
        el.rows.replaceChildren(fragment);
        el.rowsWrap.hidden = state.connections.length === 0;
        el.rowsEmpty.hidden = state.connections.length !== 0;
        sensorsElsewhere = {
            total: state.totals.sensors - inRows.total,
            online: state.totals.online_sensors - inRows.online,
        };
        renderTotals();
        renderLogs(state.logs);
        worker = state.worker;
        renderWorker();
    }

    function applyUpdate(data) {
        const row = connections.get(data.site_id);
        if (!row) {
            scheduleRefresh(); // a connection this page has not seen yet
            return;
        }
        ROW_FIELDS.forEach(function (name) {
            if (Object.prototype.hasOwnProperty.call(data, name)) {
                row[name] = data[name];
            }
        });
        if (data.sensor_counts) {
            row.sensor_counts = Object.assign({}, row.sensor_counts, data.sensor_counts);
        }
        const tr = trs.get(data.site_id);
        fillRow(tr, row);
        flashRow(tr);
        renderTotals();
        if (LOGGED_FIELDS.some(function (name) { return Object.prototype.hasOwnProperty.call(data, name); })) {
            scheduleRefresh();
        }
    }

    // ------------------------------------------------------------------ refreshing the whole state

    let refreshing = false;
    let refreshAgain = false;
    let replay = null; // updates received while a refresh is in flight
    let debounceTimer = null;
    let firstRequestAt = 0;

    function scheduleRefresh() {
        const now = Date.now();
        if (!debounceTimer) {
            firstRequestAt = now;
        }
        clearTimeout(debounceTimer);
        const wait = Math.max(0, Math.min(REFRESH_DEBOUNCE_MS, firstRequestAt + REFRESH_MAX_WAIT_MS - now));
        debounceTimer = setTimeout(function () {
            debounceTimer = null;
            refresh();
        }, wait);
    }

    async function refresh() {
        if (refreshing) {
            refreshAgain = true;
            return;
        }
        refreshing = true;
        replay = [];
        try {
            const response = await fetch(root.dataset.stateUrl, {
                headers: { Accept: "application/json" },
                credentials: "same-origin",
                cache: "no-store",
            });
            if (response.status === 403) {
                signedOut();
                return;
            }
            if (!response.ok) {
                throw new Error("HTTP " + response.status);
            }
            const state = await response.json();
            const pending = replay;
            replay = null;
            applyState(state);
            pending.forEach(applyUpdate);
        } catch (error) {
            // Keep what is shown; the next (re)connection or periodic refresh tries again.
            if (window.console) {
                console.warn("dashboard: could not refresh the state", error);
            }
        } finally {
            replay = null;
            refreshing = false;
            if (refreshAgain) {
                refreshAgain = false;
                refresh();
            }
        }
    }

    // ------------------------------------------------------------------ the status socket

    let socket = null;
    let liveState = "connecting"; // connecting | live | reconnecting | denied
    let attempts = 0;
    let reconnectAt = 0;
    let reconnectTimer = null;
    let pingTimer = null;
    let pongTimer = null;

    // The indicator is a live region: its text changes with the state only (screen readers announce
    // it); the reconnection countdown beside it ticks silently.
    function renderLive() {
        let text;
        let countdown = "";
        if (liveState === "live") {
            text = "Live";
        } else if (liveState === "connecting") {
            text = "Connecting…";
        } else if (liveState === "reconnecting") {
            text = "Reconnecting (updates paused)";
            const seconds = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000));
            countdown = seconds > 0 ? " · next try in " + seconds + " s" : "";
        } else {
            text = "Signed out: reload the page to log in again";
        }
        el.live.className = "signal live live--" + liveState;
        el.live.dataset.state = liveState;
        const node = field(el.live, "live-text");
        if (node.textContent !== text) {
            node.textContent = text;
        }
        const tick = field(el.live, "live-countdown");
        if (tick.textContent !== countdown) {
            tick.textContent = countdown;
        }
        field(el.live, "retry").hidden = liveState !== "reconnecting";
    }

    function setLive(state) {
        liveState = state;
        renderLive();
    }

    function connect() {
        clearTimeout(reconnectTimer);
        reconnectTimer = null;
        if (socket || liveState === "denied") {
            return;
        }
        setLive(attempts ? "reconnecting" : "connecting");
        const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
        let ws;
        try {
            ws = new WebSocket(scheme + window.location.host + root.dataset.socketPath);
        } catch (error) {
            scheduleReconnect();
            return;
        }
        socket = ws;
        ws.onopen = function () {
            attempts = 0;
            setLive("live");
            startPing(ws);
            refresh(); // whatever happened while the socket was away
        };
        ws.onmessage = function (event) {
            let message;
            try {
                message = JSON.parse(event.data);
            } catch (error) {
                return;
            }
            if (message.type === "status_update" && message.data) {
                if (replay) {
                    replay.push(message.data);
                }
                applyUpdate(message.data);
            } else if (message.type === "pong") {
                clearTimeout(pongTimer);
            }
        };
        ws.onclose = function (event) {
            if (socket !== ws) {
                return;
            }
            socket = null;
            stopPing();
            if (event.code === 4401 || event.code === 4403) {
                signedOut();
                return;
            }
            scheduleReconnect();
        };
    }

    function scheduleReconnect() {
        attempts += 1;
        const base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, Math.min(attempts - 1, 5)));
        const delay = base * (0.8 + Math.random() * 0.4);
        reconnectAt = Date.now() + delay;
        setLive("reconnecting");
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(connect, delay);
    }

    function reconnectNow() {
        if (!socket && liveState === "reconnecting") {
            connect();
        }
    }

    function startPing(ws) {
        stopPing();
        pingTimer = setInterval(function () {
            if (ws.readyState !== WebSocket.OPEN) {
                return;
            }
            ws.send(JSON.stringify({ type: "ping" }));
            clearTimeout(pongTimer);
            // No answer: the link is dead even if the browser has not noticed; start over.
            pongTimer = setTimeout(function () {
                ws.close();
            }, PONG_TIMEOUT_MS);
        }, PING_EVERY_MS);
    }

    function stopPing() {
        clearInterval(pingTimer);
        clearTimeout(pongTimer);
    }

    function signedOut() {
        clearTimeout(reconnectTimer);
        setLive("denied");
        const link = document.createElement("a");
        link.href = root.dataset.loginUrl;
        link.textContent = "Log in again";
        flash("Your session has ended; live updates and actions are paused. ", "bad", link);
    }

    // ------------------------------------------------------------------ start / stop / restart

    function flash(text, kind, extra) {
        const item = document.createElement("div");
        item.className = "flash-item flash-item--" + kind;
        item.textContent = text;
        if (extra) {
            item.appendChild(extra);
        }
        el.flash.replaceChildren(item);
        if (kind === "ok") {
            setTimeout(function () {
                if (item.parentNode) {
                    item.remove();
                }
            }, 6000);
        }
    }

    function csrfToken(form) {
        const input = form.querySelector("input[name=csrfmiddlewaretoken]");
        return input ? input.value : "";
    }

    root.addEventListener("submit", async function (event) {
        const form = event.target.closest("form.action-form");
        if (!form) {
            return;
        }
        event.preventDefault();
        const button = form.querySelector("button");
        const tr = form.closest("tr");
        const action = button.dataset.action;
        tr.classList.add("is-busy");
        tr.setAttribute("aria-busy", "true");
        try {
            const response = await fetch(form.action, {
                method: "POST",
                body: new FormData(form),
                headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
                credentials: "same-origin",
            });
            let data = null;
            try {
                data = await response.json();
            } catch (error) {
                data = null;
            }
            if (!response.ok || !data || !data.ok) {
                throw new Error((data && data.error) || "the server answered " + response.status);
            }
            flash(data.message, "ok");
            const siteId = Number(tr.dataset.siteId);
            const row = connections.get(siteId);
            if (row && data.connection) {
                row.enabled = data.connection.enabled; // the desired state; the observed one follows on the socket
                fillRow(tr, row);
            }
            scheduleRefresh(); // the operator's log row
        } catch (error) {
            flash("Could not " + action + ": " + error.message + ".", "bad");
        } finally {
            tr.classList.remove("is-busy");
            tr.removeAttribute("aria-busy");
        }
    });

    // ------------------------------------------------------------------ start

    field(el.live, "retry").addEventListener("click", reconnectNow);
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "visible") {
            reconnectNow();
            refresh();
        }
    });

    // Adopt the server-rendered rows, then render from the embedded state (local times, ages).
    el.rows.querySelectorAll("tr[data-site-id]").forEach(function (tr) {
        trs.set(Number(tr.dataset.siteId), tr);
    });
    applyState(JSON.parse(embedded.textContent));
    setInterval(tick, 1000);
    setInterval(function () {
        if (document.visibilityState === "visible") {
            refresh();
        }
    }, PERIODIC_REFRESH_MS);
    connect();

    // For operators' consoles (and the browser test): the live socket and a manual refresh.
    window.opsDashboard = {
        get socket() {
            return socket;
        },
        get liveState() {
            return liveState;
        },
        refresh: refresh,
    };
})();
