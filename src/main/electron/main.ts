// The Electron main process: a thin shell around the engine. It owns the window, hardens it,
// binds the IPC contract, and hands .torrent files and magnet links opened from the OS to the
// engine.
import { app, BrowserWindow, session as electronSession, shell } from 'electron';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineHost } from '../app/engine-host';
import { Session } from '../engine';
import { bindWindowIpc } from './electron-ipc';
import { launchItems, type LaunchItem } from './launch-args';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const rendererIndex = path.join(__dirname, '..', 'renderer', 'index.html');
const preload = path.join(__dirname, '..', 'preload', 'preload.cjs');

let engine: Session | null = null;
let host: EngineHost | null = null;
let mainWindow: BrowserWindow | null = null;
const pending: LaunchItem[] = [];

/** A .torrent file or magnet link from the OS; a bad one is reported in the window. */
async function open(item: LaunchItem): Promise<void> {
  if (!engine) {
    pending.push(item);
    return;
  }
  try {
    if (item.kind === 'magnet') await engine.addMagnet(item.value);
    else await engine.addTorrent(await readFile(item.value));
  } catch (err) {
    const what = item.kind === 'magnet' ? 'magnet link' : path.basename(item.value);
    mainWindow?.webContents.send('app:notice', {
      level: 'error',
      message: `${what}: ${(err as Error).message}`,
    });
  }
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    title: 'Tessera',
    show: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // No navigation away from the app, no new windows; links go to the system browser.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadFile(rendererIndex);
  return win;
}

async function start(): Promise<void> {
  electronSession.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  electronSession.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) =>
    callback(false),
  );

  engine = await Session.create({
    downloadDir: app.getPath('downloads'),
    stateDir: app.getPath('userData'),
  });
  host = new EngineHost(engine, { host: 'electron' });
  host.start();
  mainWindow = createWindow();
  const unbind = bindWindowIpc(host, mainWindow.webContents);
  mainWindow.on('closed', () => {
    unbind();
    mainWindow = null;
  });
  // Magnet links open in Tessera (electron-builder registers the scheme with the OS).
  app.setAsDefaultProtocolClient('magnet');
  for (const item of [...pending.splice(0), ...launchItems(process.argv.slice(1))])
    await open(item);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', (_event, argv) => {
    for (const item of launchItems(argv.slice(1))) void open(item);
    if (mainWindow?.isMinimized()) mainWindow.restore();
    mainWindow?.focus();
  });
  app.on('open-file', (event, file) => {
    event.preventDefault();
    void open({ kind: 'torrent-file', value: file });
  });
  app.on('open-url', (event, url) => {
    event.preventDefault();
    for (const item of launchItems([url])) void open(item);
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
  app.on('window-all-closed', () => app.quit());
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !engine) return;
    // Save resume state and tell trackers we stopped before the process goes.
    event.preventDefault();
    quitting = true;
    host?.stop();
    void engine.close().finally(() => app.quit());
  });
  void app.whenReady().then(start);
}
