/** `{ TESSERA_DISK_THREAD_SOURCE: '"…"' }`, ready to spread into a `define`. */
export function diskThreadDefine(): { TESSERA_DISK_THREAD_SOURCE: string };
