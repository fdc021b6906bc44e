/**
 * Whether this Node can open several listening sockets on one port (SO_REUSEPORT, the `reusePort`
 * of `server.listen`: Node 22.12 and 23.1 on, on Linux and FreeBSD).
 */
export function reusePortSupported(version = process.versions.node, platform: string = process.platform): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const nodeHasIt = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  return nodeHasIt && (platform === 'linux' || platform === 'freebsd');
}
