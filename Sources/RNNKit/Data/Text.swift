/// Text for character-level models: UTF-8 files decoded into Unicode scalars.
///
/// RNNKit's "character" is a Unicode scalar, not a grapheme cluster: every string splits into
/// scalars the same way on every platform and Unicode version, the vocabulary stays small and
/// closed (an emoji with a skin tone or a flag is two scalars that recur, not a new symbol per
/// combination), and it is what Python's `str` iterates over, so char-rnn and PyTorch scripts see
/// the same sequence. The price: a sampled text may split a combining sequence, which no more than
/// shifts a rendering.
public enum TextCorpus {
    /// Decodes UTF-8 bytes. `path` only names the source in errors.
    /// - Throws: `DataError` for an empty file or invalid UTF-8, naming the byte offset.
    public static func decode(_ bytes: [UInt8], path: String) throws(DataError) -> String {
        guard !bytes.isEmpty else {
            throw .malformed(path: path, problem: "empty text", expected: "at least one character", found: "0 bytes",
                             hint: "Point --text at a file with text in it.")
        }
        if let bad = firstInvalidUTF8Offset(bytes) {
            throw .malformed(path: path, problem: "invalid UTF-8 at byte \(bad)", expected: "UTF-8 text",
                             found: "bytes " + bytes[bad..<min(bad + 4, bytes.count)].map { String($0, radix: 16, uppercase: false) }.joined(separator: " "),
                             hint: "Convert the file to UTF-8 first, e.g. `iconv -f GB18030 -t UTF-8 FILE`.")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads and decodes a UTF-8 file.
    public static func read(path: String, stripANSI: Bool = false) throws(DataError) -> String {
        // The text, its ids (8 bytes a character) and the training/validation copies of them.
        let text = try decode(readFile(path, expansion: 20, hint: "RNNKit holds the text and its ids in memory; train on a part of the file."),
                              path: path)
        return stripANSI ? removingANSIEscapes(text) : text
    }

    /// Removes ANSI terminal escapes (`ESC [ … letter`, and a bare `ESC` with one following character),
    /// as found in Debian's fortune files.
    public static func removingANSIEscapes(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let s = scalars.next() {
            guard s == "\u{1B}" else { out.append(s); continue }
            guard let next = scalars.next() else { break }
            if next == "[" {
                while let c = scalars.next(), !(("@"..."~").contains(c)) {}  // parameters until the final byte
            }
        }
        return String(out)
    }

    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence.
    static func firstInvalidUTF8Offset(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            let (length, low, high): (Int, UInt8, UInt8)  // allowed range of the second byte
            switch c {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)  // no surrogates
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            default: return i
            }
            guard i + length <= b.count, (low...high).contains(b[i + 1]) else { return i }
            for k in 2..<length where !(0x80...0xBF).contains(b[i + k]) { return i }
            i += length
        }
        return nil
    }
}

/// The characters (Unicode scalars) a model knows, each with an id; stored in `config.json`.
public struct Vocabulary: Codable, Equatable, Sendable {
    /// The characters in id order (sorted by scalar value, so the same text gives the same ids).
    public let characters: [String]
    private let ids: [Unicode.Scalar: Int]

    /// The vocabulary of every character in `text`.
    public init(text: String) {
        self.init(scalars: Set(text.unicodeScalars).sorted { $0.value < $1.value })
    }

    private init(scalars: [Unicode.Scalar]) {
        characters = scalars.map { String($0) }
        ids = Dictionary(uniqueKeysWithValues: scalars.enumerated().map { ($1, $0) })
    }

    public var count: Int { characters.count }

    /// The ids of `text`'s characters.
    /// - Throws: `RNNKitError.invalidValue` naming the first character the vocabulary lacks and where.
    public func encode(_ text: String, argument: String = "text") throws(RNNKitError) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for (position, s) in text.unicodeScalars.enumerated() {
            guard let id = ids[s] else {
                throw .invalidValue(argument: argument, expected: "characters the model was trained on",
                                    found: "'\(s.escaped(asASCII: false))' (U+\(String(s.value, radix: 16, uppercase: true))) at character \(position)",
                                    hint: "The model knows \(count) characters; remove or replace that one.")
            }
            out.append(id)
        }
        return out
    }

    /// The text of `ids` (each in `0..<count`).
    public func decode(_ sequence: [Int]) -> String {
        var out = String.UnicodeScalarView()
        for id in sequence { out.append(contentsOf: characters[id].unicodeScalars) }
        return String(out)
    }

    public init(from decoder: any Decoder) throws {
        let characters = try decoder.singleValueContainer().decode([String].self)
        var scalars: [Unicode.Scalar] = []
        for c in characters {
            guard c.unicodeScalars.count == 1, let s = c.unicodeScalars.first, !scalars.contains(s) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "vocabulary entries must be distinct single characters, found \(c.debugDescription)"))
            }
            scalars.append(s)
        }
        self.init(scalars: scalars)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(characters)
    }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool { a.characters == b.characters }
}
