import Foundation

/// The safetensors format (Hugging Face's, loaded by `safetensors.torch.load_file`):
/// an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}}`,
/// then the raw little-endian data; offsets count from the end of the header.
public enum SafeTensors {
    /// Encodes tensors (in name order) and string metadata.
    public static func encode<S: TensorScalar>(_ tensors: [String: Tensor<S>], metadata: [String: String] = [:]) -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            let size = t.count * MemoryLayout<S>.size
            header[name] = ["dtype": S.dtypeName, "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        var json = [UInt8](try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces so the data is 8-byte aligned
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { p in
                // Little-endian hosts (x86-64, arm64) store the scalars as safetensors does.
                out += UnsafeRawBufferPointer(p)
            }
        }
        return out
    }

    /// Decodes a safetensors file's bytes into tensors of `S` (F32 and F64 are accepted and converted),
    /// checking everything a damaged or foreign file can get wrong. `path` names the source in errors.
    public static func decode<S: TensorScalar>(
        _ bytes: [UInt8], path: String, as _: S.Type = S.self
    ) throws(DataError) -> (tensors: [String: Tensor<S>], metadata: [String: String]) {
        func bad(_ problem: String, _ expected: String, _ found: String,
                 _ hint: String = "The file is damaged or not a safetensors file; save it again.") -> DataError {
            .malformed(path: path, problem: problem, expected: expected, found: found, hint: hint)
        }
        guard bytes.count >= 8 else { throw bad("file too short", "an 8-byte header length", "\(bytes.count) bytes") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw bad("bad header length", "at most \(bytes.count - 8) bytes", "\(headerLength)")
        }
        let dataStart = 8 + Int(headerLength)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw bad("invalid JSON header", "a JSON object", "text that does not parse")
        }
        guard let header = object as? [String: Any] else { throw bad("invalid JSON header", "a JSON object", "another JSON value") }
        var metadata: [String: String] = [:]
        if let m = header["__metadata__"] {
            guard let m = m as? [String: String] else {
                throw bad("bad __metadata__", "an object of strings", "\(type(of: m))")
            }
            metadata = m
        }
        let dataSize = bytes.count - dataStart
        var regions: [(begin: Int, end: Int, name: String)] = []
        var tensors: [String: Tensor<S>] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let e = entry as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offsets = e["data_offsets"] as? [Int], offsets.count == 2 else {
                throw bad("bad entry for tensor '\(name)'", "dtype, shape and data_offsets [begin, end]", "\(entry)")
            }
            let elementSize: Int
            switch dtype {
            case "F32": elementSize = 4
            case "F64": elementSize = 8
            default:
                throw bad("unsupported dtype of tensor '\(name)'", "F32 or F64", dtype,
                          "Save the weights as float32, e.g. `model.float()` in PyTorch before save_file.")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("negative size in tensor '\(name)'", "sizes ≥ 0", "\(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw bad("offsets of tensor '\(name)' out of range", "0 ≤ begin ≤ end ≤ \(dataSize)", "[\(begin), \(end)]")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let (byteCount, tooMany) = count.multipliedReportingOverflow(by: elementSize)
            guard !overflow, !tooMany, byteCount == end - begin else {
                throw bad("size of tensor '\(name)' does not match its shape", "\(shape) × \(elementSize) bytes",
                          "\(end - begin) bytes")
            }
            regions.append((begin, end, name))
            var values = [S]()
            values.reserveCapacity(count)
            bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress! + dataStart + begin
                for i in 0..<count {
                    if elementSize == 4 {
                        values.append(S(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))))
                    } else {
                        values.append(S(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))))
                    }
                }
            }
            tensors[name] = Tensor(validShape: shape, scalars: values)
        }
        regions.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(regions, regions.dropFirst()) where b.begin < a.end {
            throw bad("tensors '\(a.name)' and '\(b.name)' overlap", "disjoint byte ranges", "[\(a.begin), \(a.end)) and [\(b.begin), \(b.end))")
        }
        return (tensors, metadata)
    }

    /// Reads a safetensors file.
    public static func read<S: TensorScalar>(path: String, as type: S.Type = S.self) throws(DataError)
        -> (tensors: [String: Tensor<S>], metadata: [String: String]) {
        try decode(readFile(path, expansion: 2, hint: "The file holds more weights than fit in memory."), path: path, as: type)
    }
}
