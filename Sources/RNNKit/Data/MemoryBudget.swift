import Foundation

/// How much memory a run may plan to use, so that a file or a model that cannot fit is refused
/// with a clear error before any work starts, instead of ending in an out-of-memory kill.
///
/// The budget is the memory available when asked: `MemAvailable` from `/proc/meminfo`, lowered to
/// a cgroup v2 `memory.max` where one is set (containers), or the physical memory elsewhere. The
/// environment variable `RNNKIT_MEMORY_LIMIT` replaces it: a number of bytes with an optional
/// `K`, `M`, `G` or `T` suffix (powers of 1024), e.g. `RNNKIT_MEMORY_LIMIT=2G`.
///
/// The checks compare estimates, not exact counts: they catch a file or a batch that is too large
/// by a wide margin, which is what an out-of-memory kill mostly is.
public enum MemoryBudget {
    /// The name of the environment variable that sets the budget.
    public static let variable = "RNNKIT_MEMORY_LIMIT"

    /// The budget in bytes.
    /// - Throws: `RNNKitError.invalidValue` when `RNNKIT_MEMORY_LIMIT` is set but not a size.
    public static func bytes() throws(RNNKitError) -> Double {
        if let text = ProcessInfo.processInfo.environment[variable] {
            guard let value = parse(text) else {
                throw .invalidValue(argument: variable, expected: "a size in bytes such as 500M, 2G or 1073741824",
                                    found: "'\(text)'", hint: "Unset it to use the memory available.")
            }
            return value
        }
        return detected()
    }

    /// Checks that `needed` bytes fit the budget.
    /// - Throws: `RNNKitError.insufficientMemory` saying what needs the memory and how to fix it.
    public static func require(_ needed: Double, for what: String, hint: String) throws(RNNKitError) {
        let available = try bytes()
        guard needed <= available else {
            throw .insufficientMemory(what: what, needed: needed, available: available, hint: hint)
        }
    }

    /// `"3.2 GiB"`: bytes the way messages write them.
    public static func format(_ bytes: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = bytes, unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    static func parse(_ text: String) -> Double? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        var scale = 1.0
        for (suffix, power) in [("K", 1.0), ("M", 2.0), ("G", 3.0), ("T", 4.0)] where digits.hasSuffix(suffix) || digits.hasSuffix(suffix + "B")
            || digits.hasSuffix(suffix + "IB") {
            digits = String(digits.prefix { $0.isNumber || $0 == "." })
            scale = pow(1024, power)
        }
        guard let value = Double(digits), value.isFinite, value > 0 else { return nil }
        return value * scale
    }

    private static func detected() -> Double {
        var available = Double(ProcessInfo.processInfo.physicalMemory)
        #if os(Linux)
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kib = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) {
            available = kib * 1024
        }
        if let limit = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let bytes = Double(limit.trimmingCharacters(in: .whitespacesAndNewlines)) {
            let used = (try? String(contentsOfFile: "/sys/fs/cgroup/memory.current", encoding: .utf8))
                .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            available = min(available, max(bytes - used, 0))
        }
        #endif
        return available
    }
}
