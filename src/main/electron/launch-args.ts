// What the OS hands the app to open: .torrent paths and magnet links, on the command line of a
// first or second instance (Windows, Linux) or through open-file / open-url (macOS).

export interface LaunchItem {
  kind: 'torrent-file' | 'magnet';
  value: string;
}

/** The .torrent files and magnet links among a process's arguments, in order. */
export function launchItems(argv: readonly string[]): LaunchItem[] {
  const items: LaunchItem[] = [];
  for (const arg of argv) {
    if (/^magnet:\?/i.test(arg)) items.push({ kind: 'magnet', value: arg });
    else if (!arg.startsWith('-') && arg.toLowerCase().endsWith('.torrent'))
      items.push({ kind: 'torrent-file', value: arg });
  }
  return items;
}
