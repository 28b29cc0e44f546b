/// Why a firmware model could not be seeded. The daemon logs it and goes on with the others:
/// one bad file must not keep the good ones from being served.
public enum SeedError: Error, CustomStringConvertible, Sendable, Equatable {
    case manifest(path: String, reason: String)
    case unreadable(path: String)
    case invalidModel(path: String, reason: String)
    case digestMismatch(path: String, expected: String, found: String)
    case nameMismatch(path: String, manifest: String, file: String)
    case store(path: String, reason: String)

    public var description: String {
        switch self {
        case .manifest(let path, let reason): "\(path): \(reason)"
        case .unreadable(let path): "\(path): cannot read the file"
        case .invalidModel(let path, let reason): "\(path): refused: \(reason)"
        case .digestMismatch(let path, let expected, let found):
            "\(path): refused: SHA-256 expected \(expected) (manifest), found \(found)"
        case .nameMismatch(let path, let manifest, let file):
            "\(path): refused: the manifest names the model '\(manifest)' but the file says '\(file)'"
        case .store(let path, let reason): "\(path): not stored: \(reason)"
        }
    }
}
