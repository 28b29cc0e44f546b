/// dlad's version: what `/v1/health` reports, `dlad --version` and `dlactl --version` print, and
/// the Debian package carries (packaging/build-deb.sh reads it from here).
public enum DaemonVersion {
    public static let current = "0.3.0"
}
