/// An error reading a user's data or model files: which file, what was wrong, what was expected,
/// and how to fix it.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file or folder the command needs is not there.
    case missing(path: String, what: String, hint: String)
    /// The file exists but cannot be read.
    case unreadable(path: String, reason: String)
    /// A file or folder cannot be written.
    case unwritable(path: String, reason: String, hint: String)
    /// The file's contents break its format.
    case malformed(path: String, problem: String, expected: String, found: String, hint: String)
    /// Reading the file would need more memory than the run has (see `MemoryBudget`).
    case tooLarge(path: String, what: String, needed: Double, available: Double, hint: String)

    public var description: String {
        switch self {
        case let .missing(path, what, hint):
            return "\(path): \(what) not found. \(hint)"
        case let .unreadable(path, reason):
            return "\(path): cannot be read (\(reason))."
        case let .unwritable(path, reason, hint):
            return "\(path): cannot be written (\(reason)). \(hint)"
        case let .malformed(path, problem, expected, found, hint):
            return "\(path): \(problem): expected \(expected), found \(found). \(hint)"
        case let .tooLarge(path, what, needed, available, hint):
            return "\(path): \(what) needs about \(MemoryBudget.format(needed)), more than the \(MemoryBudget.format(available)) "
                + "of memory available (\(MemoryBudget.variable) sets the limit). \(hint)"
        }
    }
}
