import Foundation

/// An array of unsigned bytes in the IDX format of MNIST and Fashion-MNIST.
public struct IDXArray: Equatable, Sendable {
    /// Sizes, outermost first: `(N, rows, columns)` for images, `(N)` for labels.
    public var dimensions: [Int]
    /// Elements in row-major order.
    public var bytes: [UInt8]

    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }
}

/// Reads and writes IDX files: a big-endian header `00 00 08 n` (unsigned bytes, n dimensions),
/// n 32-bit big-endian sizes, then the data. Files may be gzip-compressed.
public enum IDX {
    /// Reads an IDX file, inflating it first when it is gzip-compressed.
    /// - Throws: `DataError` naming the file and the problem: a missing file, a `.gz` name on data
    ///   that is not gzip, a damaged stream, a wrong magic number or element type, sizes that do not
    ///   match the data.
    public static func read(path: String) throws(DataError) -> IDXArray {
        try decode(readFile(path, expansion: expansion, hint: hint), path: path)
    }

    /// Memory per byte of IDX data while it is read and split (the bytes, the parsed copy, the splits).
    static let expansion = 4.0
    static let hint = "RNNKit holds the data in memory; use a subset of the file, or a machine with more memory."

    /// Decodes a whole IDX file's bytes, raw or gzip-compressed; `path` names the source in errors
    /// (and a `.gz` ending there promises compressed bytes).
    public static func decode(_ bytes: [UInt8], path: String) throws(DataError) -> IDXArray {
        var bytes = bytes
        if Gzip.isCompressed(bytes) {
            let budget = try memoryBudget(path)
            switch Gzip.decompress(bytes, limit: Int(min(budget / Self.expansion, Double(Int.max / 2)))) {
            case .success(let inflated): bytes = inflated
            case .failure(.tooLarge(let limit)):
                throw .tooLarge(path: path, what: "inflating this gzip file (more than \(MemoryBudget.format(Double(limit))) of data)",
                                needed: Double(limit + 1) * Self.expansion, available: budget, hint: Self.hint)
            case .failure(.damaged(let message)):
                throw .malformed(path: path, problem: "damaged gzip data", expected: "a complete gzip stream",
                                 found: message, hint: "Download or copy the file again.")
            }
        } else if path.hasSuffix(".gz") {
            throw .malformed(path: path, problem: "not gzip-compressed although named .gz",
                             expected: "the gzip magic 1f 8b", found: hexPrefix(bytes),
                             hint: "Rename the file without .gz if it holds raw IDX data.")
        }
        return try parse(bytes, path: path)
    }

    /// Parses uncompressed IDX bytes; `path` only names the source in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> IDXArray {
        func bad(_ problem: String, _ expected: String, _ found: String,
                 _ hint: String = "This does not look like an MNIST-format (IDX) file.") -> DataError {
            .malformed(path: path, problem: problem, expected: expected, found: found, hint: hint)
        }
        guard bytes.count >= 4 else { throw bad("file too short for an IDX header", "at least 4 bytes", "\(bytes.count)") }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw bad("bad magic number", "00 00 08 0n", hexPrefix(bytes))
        }
        guard bytes[2] == 0x08 else {
            throw bad("unsupported element type", "0x08 (unsigned byte)", String(format: "0x%02X", bytes[2]),
                      "MNIST images and labels are unsigned bytes.")
        }
        let rank = Int(bytes[3])
        guard (1...4).contains(rank) else { throw bad("bad number of dimensions", "1 to 4", "\(rank)") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw bad("truncated header", "\(headerSize) bytes for \(rank) dimensions", "\(bytes.count) bytes")
        }
        var dimensions: [Int] = []
        var count = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let size = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            guard size > 0 else { throw bad("empty dimension \(d)", "a size ≥ 1", "0") }
            dimensions.append(size)
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, product <= bytes.count else {
                throw bad("data shorter than its sizes", "\(dimensions.map(String.init).joined(separator: "×"))… bytes of data",
                          "\(bytes.count - headerSize) bytes", "The file is truncated; download or copy it again.")
            }
            count = product
        }
        let dataSize = bytes.count - headerSize
        guard dataSize == count else {
            throw bad(dataSize < count ? "truncated data" : "extra bytes after the data",
                      "\(count) bytes for sizes \(dimensions.map(String.init).joined(separator: "×"))", "\(dataSize) bytes",
                      dataSize < count ? "The file is truncated; download or copy it again." : "The header's sizes do not match the file.")
        }
        return IDXArray(dimensions: dimensions, bytes: Array(bytes[headerSize...]))
    }

    /// The bytes of an uncompressed IDX file holding `array` (for tools and tests that write data).
    public static func encode(_ array: IDXArray) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(array.dimensions.count)]
        for d in array.dimensions {
            out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                    UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
        }
        return out + array.bytes
    }

    /// Writes `array` as an IDX file, gzip-compressed when `compressed` is true. The file is written
    /// to a temporary name and renamed, so a reader never sees half of it.
    public static func write(_ array: IDXArray, to path: String, compressed: Bool) throws(DataError) {
        let bytes = compressed ? Gzip.compress(encode(array)) : encode(array)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .unreadable(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    static func hexPrefix(_ bytes: [UInt8]) -> String {
        bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}

/// Reads a whole file, mapping failures to `DataError`. A reader whose result takes `expansion`
/// times the file's size in memory says so, and a file that cannot fit is refused before reading.
func readFile(_ path: String, expansion: Double = 1, hint: String = "Use a smaller file.") throws(DataError) -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw .missing(path: path, what: "file", hint: "Check the path.")
    }
    guard !isDirectory.boolValue else { throw .unreadable(path: path, reason: "it is a folder") }
    let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.doubleValue ?? 0
    let budget = try memoryBudget(path)
    guard size * expansion <= budget else {
        throw .tooLarge(path: path, what: "reading this \(MemoryBudget.format(size)) file", needed: size * expansion,
                        available: budget, hint: hint)
    }
    do {
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
        throw .unreadable(path: path, reason: error.localizedDescription)
    }
}

/// The memory budget, with a bad `RNNKIT_MEMORY_LIMIT` reported as a problem reading `path`.
func memoryBudget(_ path: String) throws(DataError) -> Double {
    do {
        return try MemoryBudget.bytes()
    } catch {
        throw .unreadable(path: path, reason: error.description)
    }
}
