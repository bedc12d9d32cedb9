/// An error a caller of RNNKit can cause: a tensor of the wrong shape, a size out of range,
/// an option that does not fit the model. Every case names the argument, what was found,
/// what was expected, and how to fix it.
public enum RNNKitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tensor argument has the wrong shape.
    case shapeMismatch(argument: String, expected: String, found: [Int], hint: String)
    /// A value (a size, a rate, an index, an option) is out of its allowed range or set.
    case invalidValue(argument: String, expected: String, found: String, hint: String)
    /// A model, a batch or a file would need more memory than the run has (see `MemoryBudget`).
    case insufficientMemory(what: String, needed: Double, available: Double, hint: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(argument, expected, found, hint):
            return "\(argument): expected shape \(expected), found \(shapeString(found)). \(hint)"
        case let .invalidValue(argument, expected, found, hint):
            return "\(argument): expected \(expected), found \(found). \(hint)"
        case let .insufficientMemory(what, needed, available, hint):
            return "\(what) needs about \(MemoryBudget.format(needed)), more than the \(MemoryBudget.format(available)) of memory "
                + "available (\(MemoryBudget.variable) sets the limit). \(hint)"
        }
    }
}

/// `[3, 5, 4]` → `(3, 5, 4)`, the way shapes are written in messages and doc comments.
func shapeString(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
