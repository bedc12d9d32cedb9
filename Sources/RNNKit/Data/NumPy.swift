import Foundation
import ZIPFoundation

/// An array read from NumPy's `.npy` format (what `np.save` writes), or one member of a `.npz`
/// archive (`np.savez`, `np.savez_compressed`).
///
/// Numbers of any width and byte order are read: floats (`f4`, `f8`) as `Float`, integers and
/// booleans (`i1`…`i8`, `u1`…`u8`, `b1`) as `Int`; fixed-width strings (`U`, `S`) as text, for
/// class names. Fortran-order arrays are turned to C order. Object arrays (pickled Python objects),
/// complex, half-precision, date and structured types are refused with an error saying how to
/// convert them.
public struct NumPyArray: Equatable, Sendable {
    /// The elements, in C (row-major) order.
    public enum Elements: Equatable, Sendable {
        case floats([Float])
        case integers([Int])
        case strings([String])
    }

    public var shape: [Int]
    public var elements: Elements
    /// The dtype as the header spells it, e.g. `<f4`.
    public var dtype: String

    public init(shape: [Int], elements: Elements, dtype: String) {
        self.shape = shape
        self.elements = elements
        self.dtype = dtype
    }

    /// Elements in all (the product of the shape).
    public var count: Int { shape.reduce(1, *) }

    /// `(2, 3)`: the shape as NumPy prints it.
    public var shapeText: String { "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")") }
}

/// Reading NumPy files: `.npy` arrays and `.npz` archives of them.
public enum NumPy {
    /// Parses the bytes of a `.npy` file; `path` names it in errors.
    /// - Throws: `DataError.malformed` saying what is wrong (bad magic, header, dtype, or a file
    ///   shorter than its declared shape needs).
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> NumPyArray {
        func fail(_ problem: String, expected: String, found: String,
                  hint: String = "Write the array with numpy.save (or numpy.savez for several).") -> DataError {
            .malformed(path: path, problem: problem, expected: expected, found: found, hint: hint)
        }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail(bytes.isEmpty ? "empty file" : "not a NumPy .npy file", expected: "the magic bytes \\x93NUMPY",
                       found: bytes.isEmpty ? "0 bytes" : "\(min(bytes.count, 6)) other bytes")
        }
        let major = Int(bytes[6])
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            (headerLength, headerStart) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header", expected: "12 bytes of preamble", found: "\(bytes.count)") }
            (headerLength, headerStart) = ((8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }, 12)
        default:
            throw fail("format version \(major).\(bytes[7])", expected: "version 1, 2 or 3", found: "\(major).\(bytes[7])")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw fail("truncated header", expected: "\(headerLength) header bytes", found: "\(bytes.count - headerStart)")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        let header = major == 3 ? String(decoding: headerBytes, as: UTF8.self) : String(headerBytes.map { Character(Unicode.Scalar($0)) })
        let (descr, fortran, shape) = try parseHeader(header, fail: fail)

        let type = try ElementType(descr, fail: fail)
        // The element count, refusing shapes whose size overflows or exceeds the bytes present.
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= bytes.count else {
                throw fail("declared shape \(shapeText(shape)) is larger than the file", expected: "at most \(bytes.count) elements",
                           found: "shape \(shapeText(shape))")
            }
            count = product
        }
        let dataStart = headerStart + headerLength, needed = count * type.size
        guard type.size == 0 || count <= (bytes.count - dataStart) / type.size else {
            throw fail("truncated data", expected: "\(needed) bytes for shape \(shapeText(shape)) of \(descr)",
                       found: "\(bytes.count - dataStart)", hint: "The file was cut short; write it again.")
        }
        var elements = try bytes.withUnsafeBufferPointer { (buffer) throws(DataError) -> NumPyArray.Elements in
            try type.decode(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[dataStart..<(dataStart + needed)]),
                            count: count, fail: fail)
        }
        if fortran && shape.count > 1 { elements = cOrder(elements, shape: shape) }
        return NumPyArray(shape: shape, elements: elements, dtype: descr)
    }

    /// Reads a `.npy` file, checking first that it fits in memory.
    public static func read(path: String) throws(DataError) -> NumPyArray {
        try parse(readFile(path, expansion: 3, hint: "Split the array, or train on a part of it."), path: path)
    }

    /// Reads a `.npz` archive (stored or deflated members), checking the unpacked size against the
    /// memory budget before unpacking. The arrays come back by name, without `.npy`.
    ///
    /// Always from a file: ZIPFoundation's in-memory archives (`Archive(data:)`) trap on a central
    /// directory that points past the end, which its file-backed archives report as an error
    /// (found by `Fuzz/Sources/FuzzNumPy`).
    public static func readArchive(path: String) throws(DataError) -> [String: NumPyArray] {
        try requireFile(path)
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw notZip(path)
        }
        return try arrays(of: archive, path: path)
    }

    private static func notZip(_ path: String) -> DataError {
        .malformed(path: path, problem: "not a .npz archive", expected: "a zip archive of .npy files", found: "no zip directory",
                   hint: "Write it with numpy.savez(path, x=..., y=...).")
    }

    /// Checks that the file exists and is not a folder.
    private static func requireFile(_ path: String) throws(DataError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .missing(path: path, what: "file", hint: "Check the path.")
        }
        guard !isDirectory.boolValue else { throw .unreadable(path: path, reason: "it is a folder") }
    }

    private static func arrays(of archive: Archive, path: String) throws(DataError) -> [String: NumPyArray] {
        let entries = Array(archive).filter { $0.type == .file }
        let declared = entries.reduce(0.0) { $0 + Double($1.uncompressedSize) }
        let budget = try memoryBudget(path)
        guard declared * 3 <= budget else {
            throw .tooLarge(path: path, what: "unpacking this archive (\(MemoryBudget.format(declared)))", needed: declared * 3,
                            available: budget, hint: "Split the arrays, or train on a part of them.")
        }
        var out: [String: NumPyArray] = [:]
        for entry in entries {
            let name = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            let limit = Int(entry.uncompressedSize)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(limit)
            do {
                let checksum = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard bytes.count + chunk.count <= limit else { throw CocoaError(.fileReadCorruptFile) }
                    bytes.append(contentsOf: chunk)
                }
                // Extracting to a consumer returns the CRC-32 of what came out; it is ours to compare.
                guard checksum == entry.checksum, bytes.count == limit else { throw CocoaError(.fileReadCorruptFile) }
            } catch {
                throw .malformed(path: path, problem: "member '\(name)' cannot be unpacked", expected: "an intact zip member",
                                 found: "a damaged one (\(error))", hint: "The archive is damaged; write it again with numpy.savez.")
            }
            out[name] = try parse(bytes, path: "\(path) (member \(name))")
        }
        return out
    }

    /// `descr`, `fortran_order` and `shape` from the header's Python dict literal.
    private static func parseHeader(_ header: String, fail: (String, String, String, String) -> DataError) throws(DataError)
        -> (String, Bool, [Int]) {
        func value(_ key: String) -> Substring? {
            guard let range = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
            return header[range.upperBound...].drop { $0 == " " }
        }
        let expected = "a header like {'descr': '<f4', 'fortran_order': False, 'shape': (N, T, F), }"
        let hint = "Write the array with numpy.save (or numpy.savez for several)."
        guard let d = value("descr"), let quote = d.first, quote == "'" || quote == "\"",
              let end = d.dropFirst().firstIndex(of: quote) else {
            if let d = value("descr"), d.first == "[" {
                throw fail("a structured dtype", "a plain numeric or string dtype", "fields \(d.prefix(40))",
                           "Save each field as its own array: numpy.savez(path, x=a['x'], y=a['y']).")
            }
            throw fail("header has no 'descr'", expected, "'\(header.prefix(60))'", hint)
        }
        let descr = String(d[d.index(after: d.startIndex)..<end])
        guard let f = value("fortran_order") else { throw fail("header has no 'fortran_order'", expected, "'\(header.prefix(60))'", hint) }
        let fortran: Bool
        if f.hasPrefix("True") { fortran = true } else if f.hasPrefix("False") { fortran = false } else {
            throw fail("'fortran_order' is neither True nor False", expected, "'\(f.prefix(20))'", hint)
        }
        guard let s = value("shape"), s.first == "(", let close = s.firstIndex(of: ")") else {
            throw fail("header has no 'shape' tuple", expected, "'\(header.prefix(60))'", hint)
        }
        var shape: [Int] = []
        for item in s[s.index(after: s.startIndex)..<close].split(separator: ",") {
            let text = item.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            guard !text.isEmpty else { continue }
            guard let n = Int(text), n >= 0 else { throw fail("shape holds '\(text.prefix(20))'", "whole numbers ≥ 0", "'\(text.prefix(20))'", hint) }
            shape.append(n)
        }
        return (descr, fortran, shape)
    }

    static func shapeText(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }

    /// Fortran-order elements rearranged into C order.
    private static func cOrder(_ elements: NumPyArray.Elements, shape: [Int]) -> NumPyArray.Elements {
        let count = shape.reduce(1, *)
        // C index → Fortran index: the first axis varies fastest in Fortran order.
        var fortranStride = [Int](repeating: 1, count: shape.count)
        for k in 1..<shape.count { fortranStride[k] = fortranStride[k - 1] * shape[k - 1] }
        let map = (0..<count).map { c -> Int in
            var rest = c, f = 0
            for k in stride(from: shape.count - 1, through: 0, by: -1) {
                f += (rest % shape[k]) * fortranStride[k]
                rest /= shape[k]
            }
            return f
        }
        switch elements {
        case let .floats(v): return .floats(map.map { v[$0] })
        case let .integers(v): return .integers(map.map { v[$0] })
        case let .strings(v): return .strings(map.map { v[$0] })
        }
    }

    /// A dtype RNNKit reads: its kind, width and byte order.
    private struct ElementType {
        enum Kind { case float, signed, unsigned, bool, unicode, bytes }
        let kind: Kind
        let size: Int
        let bigEndian: Bool

        init(_ descr: String, fail: (String, String, String, String) -> DataError) throws(DataError) {
            let order = descr.first ?? "<"
            var body = Substring(descr)
            if "<>|=".contains(order) { body = body.dropFirst() }
            bigEndian = order == ">"
            if body.first == "O" {
                throw fail("an object array (pickled Python objects)", "numbers or fixed-width strings", "dtype '\(descr)'",
                           "Convert it first: numpy.save(path, numpy.asarray(a, dtype=numpy.float32)), or dtype=str for class names.")
            }
            guard let letter = body.first, let width = Int(body.dropFirst()), width >= 0, width <= 1 << 20 else {
                throw fail("dtype '\(descr)'", "a NumPy dtype such as <f4", "'\(descr.prefix(20))'",
                           "Save the array as float32: numpy.save(path, x.astype(numpy.float32)).")
            }
            switch (letter, width) {
            case ("f", 4), ("f", 8): kind = .float
            case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
            case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
            case ("b", 1): kind = .bool
            case ("U", _) where width > 0: kind = .unicode
            case ("S", _) where width > 0: kind = .bytes
            default:
                throw fail("dtype '\(descr)' is not read", "float32/64, integers, booleans or strings", "'\(descr)'",
                           "Convert it first: numpy.save(path, a.astype(numpy.float32)).")
            }
            size = kind == .unicode ? 4 * width : width
        }

        func decode(_ raw: UnsafeRawBufferPointer, count: Int, fail: (String, String, String, String) -> DataError) throws(DataError)
            -> NumPyArray.Elements {
            func integer(_ at: Int) -> UInt64 {
                var v: UInt64 = 0
                for k in 0..<size {
                    let byte = UInt64(raw[at + (bigEndian ? size - 1 - k : k)])
                    v |= byte << (8 * UInt64(k))
                }
                return v
            }
            switch kind {
            case .float:
                return .floats((0..<count).map { i in
                    let bits = integer(i * size)
                    return size == 4 ? Float(bitPattern: UInt32(truncatingIfNeeded: bits)) : Float(Double(bitPattern: bits))
                })
            case .signed:
                return .integers((0..<count).map { i in
                    let shift = UInt64(64 - 8 * size)
                    return Int(Int64(bitPattern: integer(i * size) << shift) >> Int64(shift))
                })
            case .unsigned, .bool:
                var out: [Int] = []
                out.reserveCapacity(count)
                for i in 0..<count {
                    let v = integer(i * size)
                    guard v <= UInt64(Int.max) else {
                        throw fail("element \(i) is \(v)", "integers below 2^63", "\(v)", "Save the array as int64 or float64.")
                    }
                    out.append(Int(v))
                }
                return .integers(out)
            case .unicode:
                return .strings((0..<count).map { i in
                    var scalars = String.UnicodeScalarView()
                    for c in 0..<(size / 4) {
                        let at = i * size + 4 * c
                        let code = (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[at + (bigEndian ? 3 - $1 : $1)]) << (8 * UInt32($1)) }
                        if code == 0 { break }
                        scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                    }
                    return String(scalars)
                })
            case .bytes:
                return .strings((0..<count).map { i in
                    let item = raw[(i * size)..<((i + 1) * size)]
                    return String(decoding: item.prefix { $0 != 0 }, as: UTF8.self)
                })
            }
        }
    }
}
