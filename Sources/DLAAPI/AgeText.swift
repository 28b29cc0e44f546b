/// An age or a duration as people write it: `90s`, `15m`, `1h`, `7d`. The daemon reads history
/// filters (`since=1h`) with it, dlactl its windows and durations, so both take the same forms.
public enum AgeText {
    /// The seconds `text` stands for: a whole number below 2^40 followed by s, m, h or d;
    /// nil for anything else (a bare number included, which callers read as they document).
    public static func seconds(_ text: String) -> Int64? {
        guard let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0, amount < 1 << 40 else { return nil }
        return switch unit {
        case "s": amount
        case "m": amount * 60
        case "h": amount * 3600
        case "d": amount * 86_400
        default: nil
        }
    }
}
