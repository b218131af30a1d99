/**
 * One headless Chromium per simulated person: the fake camera clip is a process-wide flag, so
 * distinct videos need distinct processes. Uses the system Chromium; never downloads one.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags measured to work here (see shared notes "Real browsers here"). */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

export interface PersonBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * A second person in the same browser process (same fake camera clip): lighter than another
 * browser when the test only needs video to flow, not a distinct picture.
 */
export async function openSecondPerson(browser: PersonBrowser): Promise<PersonBrowser> {
  const page = await browser.context.newPage();
  reportPageErrors(page, '[browser second page]');
  return { context: browser.context, page, close: () => page.close().catch(() => undefined) };
}

/** What Chromium logs for each request refused while a test holds the page offline. */
const OFFLINE_NOISE = /net::ERR_INTERNET_DISCONNECTED/;

/**
 * Browser console errors go to stderr (without jest's console stack noise): the first thing to
 * read when a step times out. Requests refused while a test holds the page offline are not errors.
 */
function reportPageErrors(page: Page, label: string): void {
  page.on('console', (message) => {
    if (message.type() !== 'error' || OFFLINE_NOISE.test(message.text())) return;
    process.stderr.write(`${label} console error: ${message.text()}\n`);
  });
  page.on('pageerror', (error) => process.stderr.write(`${label} page error: ${error.message}\n`));
}

export async function launchPersonBrowser({ videoClip }: { videoClip?: string } = {}): Promise<PersonBrowser> {
  await access(CHROMIUM_PATH, constants.X_OK).catch(() => {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  });
  const profileDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-chromium-'));
  const args = videoClip ? [...CHROMIUM_FLAGS, `--use-file-for-fake-video-capture=${videoClip}`] : CHROMIUM_FLAGS;
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    ignoreHTTPSErrors: true, // the server's self-signed development certificate
    viewport: { width: 1280, height: 720 },
    args,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const label = `[browser ${path.basename(videoClip ?? 'default-camera')}]`;
  reportPageErrors(page, label);
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}
