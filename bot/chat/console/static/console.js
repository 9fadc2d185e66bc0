// The local console page: thread list, one thread, buttons, commands and live updates.
// Every HTML fragment inserted here was built and escaped by the server (render.py).
(() => {
  "use strict";

  const base = document.body.dataset.base;
  const reconnectMilliseconds = 3000;
  const byId = (id) => document.getElementById(id);
  const view = {
    live: byId("live"),
    threadList: byId("thread-list"),
    noThreads: byId("no-threads"),
    threadTitle: byId("thread-title"),
    threadChannel: byId("thread-channel"),
    thread: byId("thread"),
    notice: byId("notice"),
    sampleForm: byId("sample-form"),
    sampleStatus: byId("sample-status"),
    commandForm: byId("command-form"),
    commandInput: byId("command-input"),
    commandOutput: byId("command-output"),
  };
  const state = {
    selected: null,
    threads: [],
    followNextRoot: false,
    listLoads: 0,
    threadLoads: 0,
  };

  async function request(path, body) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      // The server refuses POSTs without this header; see security.py.
      init.headers["X-Console-Request"] = "1";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(base + path, init);
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : null;
      throw new Error(detail || `The server answered ${response.status}.`);
    }
    return data;
  }

  function showNotice(html, isError) {
    view.notice.hidden = false;
    view.notice.classList.toggle("notice-error", Boolean(isError));
    if (isError) {
      view.notice.textContent = html;
    } else {
      view.notice.innerHTML = html;
    }
  }

  function hideNotice() {
    view.notice.hidden = true;
    view.notice.textContent = "";
  }

  function localizeTimes(root) {
    for (const element of root.querySelectorAll("time[datetime]")) {
      const moment = new Date(element.getAttribute("datetime"));
      if (!Number.isNaN(moment.getTime())) {
        element.textContent = moment.toLocaleTimeString();
        element.title = moment.toLocaleString();
      }
    }
  }

  function renderThreadList() {
    view.threadList.replaceChildren();
    view.noThreads.hidden = state.threads.length > 0;
    for (const thread of state.threads) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#thread-${thread.root_id}`;
      link.className = `thread-link tone-${thread.tone}`;
      link.dataset.rootId = thread.root_id;
      if (thread.root_id === state.selected) {
        link.setAttribute("aria-current", "true");
        view.threadTitle.textContent = thread.title;
      }
      const title = document.createElement("span");
      title.className = "thread-link-title";
      title.textContent = thread.title;
      const meta = document.createElement("span");
      meta.className = "thread-link-meta";
      const when = new Date(thread.created_at).toLocaleTimeString();
      const replies = thread.reply_count === 1 ? "1 reply" : `${thread.reply_count} replies`;
      meta.textContent = `#${thread.channel} · ${replies} · ${when}`;
      link.append(title, meta);
      item.append(link);
      view.threadList.append(item);
    }
  }

  async function loadThreads() {
    const load = ++state.listLoads;
    const data = await request("/threads");
    if (load !== state.listLoads) {
      return;
    }
    state.threads = data.threads;
    renderThreadList();
    if (state.selected === null && state.threads.length > 0) {
      select(state.threads[0].root_id);
    }
  }

  async function loadThread() {
    if (state.selected === null) {
      return;
    }
    // A slower, older answer must not replace a newer one.
    const load = ++state.threadLoads;
    try {
      const data = await request(`/threads/${encodeURIComponent(state.selected)}`);
      if (load !== state.threadLoads) {
        return;
      }
      const summary = state.threads.find((thread) => thread.root_id === data.root_id);
      view.threadTitle.textContent = summary ? summary.title : `Thread ${data.root_id}`;
      view.threadChannel.textContent = `#${data.channel}`;
      view.thread.innerHTML = data.html;
      localizeTimes(view.thread);
    } catch (error) {
      if (load === state.threadLoads) {
        showNotice(error.message, true);
      }
    }
  }

  function select(rootId) {
    if (state.selected !== rootId) {
      hideNotice();
      view.commandOutput.replaceChildren();
    }
    state.selected = rootId;
    if (location.hash !== `#thread-${rootId}`) {
      history.replaceState(null, "", `#thread-${rootId}`);
    }
    renderThreadList();
    loadThread();
  }

  async function refreshAll() {
    try {
      await loadThreads();
      await loadThread();
    } catch (error) {
      showNotice(error.message, true);
    }
  }

  async function handleEvent(event) {
    // After "send a sample", show the incident it opens.
    const follow = event.kind === "root" && state.followNextRoot;
    if (follow) {
      state.followNextRoot = false;
    }
    try {
      await loadThreads();
    } catch (error) {
      showNotice(error.message, true);
    }
    if (follow) {
      select(event.root_id);
    } else if (event.root_id === state.selected) {
      loadThread();
    }
  }

  function connect() {
    const source = new EventSource(`${base}/events`);
    source.onopen = () => {
      view.live.textContent = "live";
      view.live.className = "live live-on";
      // Events sent while disconnected are gone; read everything again.
      refreshAll();
    };
    source.onmessage = (message) => handleEvent(JSON.parse(message.data));
    source.onerror = () => {
      view.live.textContent = "reconnecting…";
      view.live.className = "live live-connecting";
      // The browser retries by itself unless the server refused the stream outright.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, reconnectMilliseconds);
      }
    };
    window.addEventListener("pagehide", () => source.close(), { once: true });
  }

  async function handleSample(event) {
    event.preventDefault();
    const button = event.submitter;
    if (!button) {
      return;
    }
    button.disabled = true;
    view.sampleStatus.textContent = "Sending…";
    state.followNextRoot = true;
    try {
      const data = await request("/sample", { kind: button.value });
      view.sampleStatus.textContent = data.status;
    } catch (error) {
      state.followNextRoot = false;
      view.sampleStatus.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  async function handleClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !view.thread.contains(button)) {
      return;
    }
    button.disabled = true;
    hideNotice();
    try {
      const data = await request("/click", {
        action: button.dataset.action,
        value: button.dataset.value,
        root_id: state.selected,
      });
      if (data.html && !data.stored) {
        showNotice(data.html, false);
      }
      await loadThread();
    } catch (error) {
      showNotice(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  async function handleCommand(event) {
    event.preventDefault();
    const text = view.commandInput.value.trim();
    if (!text) {
      return;
    }
    try {
      const data = await request("/command", { text, root_id: state.selected });
      view.commandOutput.innerHTML = data.html;
      view.commandInput.value = "";
    } catch (error) {
      view.commandOutput.textContent = error.message;
    }
  }

  function handleHash() {
    const match = /^#thread-(.+)$/.exec(location.hash);
    if (match && match[1] !== state.selected) {
      select(decodeURIComponent(match[1]));
    }
  }

  view.sampleForm.addEventListener("submit", handleSample);
  view.thread.addEventListener("click", handleClick);
  view.commandForm.addEventListener("submit", handleCommand);
  window.addEventListener("hashchange", handleHash);
  handleHash();
  connect();
})();
