// How every browser test and benchmark starts Chromium: Debian's build (browsers are never
// downloaded), with the flags this machine needs (no sandbox as root, no GPU, and no background
// networking, whose connections the closed network refuses).
export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};
