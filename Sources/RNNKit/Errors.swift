/// An error a caller of RNNKit can cause: a tensor of the wrong shape, a size out of range,
/// an option that does not fit the model. Every case names the argument, what was found,
/// what was expected, and how to fix it.
public enum RNNKitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tensor argument has the wrong shape.
    case shapeMismatch(argument: String, expected: String, found: [Int], hint: String)
    /// A value (a size, a rate, an index, an option) is out of its allowed range or set.
    case invalidValue(argument: String, expected: String, found: String, hint: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(argument, expected, found, hint):
            return "\(argument): expected shape \(expected), found \(shapeString(found)). \(hint)"
        case let .invalidValue(argument, expected, found, hint):
            return "\(argument): expected \(expected), found \(found). \(hint)"
        }
    }
}

/// `[3, 5, 4]` → `(3, 5, 4)`, the way shapes are written in messages and doc comments.
func shapeString(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
