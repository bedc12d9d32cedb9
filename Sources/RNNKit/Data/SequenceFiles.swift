import Foundation

/// Labels as a file holds them, before they are read as classes or numbers.
public enum LabelValues: Sendable {
    case integers([Int])
    case numbers([Float])
    case texts([String])

    /// Reads CSV fields: whole numbers, other numbers, or text (class names).
    public init(fields: [String]) {
        let trimmed = fields.map { $0.trimmingCharacters(in: .whitespaces) }
        if let ints = trimmed.allMap({ Int($0) }) {
            self = .integers(ints)
        } else if let numbers = trimmed.allMap({ Float($0) }), numbers.allSatisfy(\.isFinite) {
            self = .numbers(numbers)
        } else {
            self = .texts(trimmed)
        }
    }

    /// Classes for whole numbers and text, numbers for the rest (scikit-learn's `type_of_target`
    /// reads whole numbers as classes too); `objective` overrides. Class names are sorted, whole
    /// numbers by value (scikit-learn's `LabelEncoder`).
    /// - Throws: `DataError.malformed` when regression is asked of labels that are not numbers.
    public func interpreted(as objective: SupervisedObjective?, path: String, what: String) throws(DataError) -> SequenceLabels {
        func classes(_ names: [String], numeric: Bool) -> SequenceLabels {
            let unique = Array(Set(names))
            let sorted = numeric ? unique.sorted { Double($0)! < Double($1)! } : unique.sorted()
            let index = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) })
            return .classes(names.map { index[$0]! }, names: sorted)
        }
        switch (self, objective) {
        case let (.integers(v), nil), let (.integers(v), .classification?):
            return classes(v.map(String.init), numeric: true)
        case let (.integers(v), .regression?):
            return .targets(v.map(Float.init), width: 1)
        case let (.numbers(v), nil), let (.numbers(v), .regression?):
            return .targets(v, width: 1)
        case let (.numbers(v), .classification?):
            return classes(v.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }, numeric: true)
        case let (.texts(v), .regression?):
            let bad = v.firstIndex { Float($0).map { !$0.isFinite } ?? true }!
            throw .malformed(path: path, problem: "\(what) \(bad + 1) is '\(v[bad].prefix(20))'", expected: "numbers for regression",
                             found: "'\(v[bad].prefix(20))'", hint: "Use --task classification for class names.")
        case let (.texts(v), _):
            let numeric = v.allSatisfy { Double($0) != nil }
            return classes(v, numeric: numeric)
        }
    }
}

extension Array {
    /// Every element transformed, or nil when any transforms to nil.
    func allMap<T>(_ transform: (Element) -> T?) -> [T]? {
        var out: [T] = []
        out.reserveCapacity(count)
        for e in self {
            guard let t = transform(e) else { return nil }
            out.append(t)
        }
        return out
    }
}

extension SequenceDataset {
    /// Sequences from NumPy arrays (Keras' layout): `x` `(N, T, F)` (or `(N, T)`: one feature),
    /// labels `y` `(N,)` per sequence or `(N, T)` per step (tagging), and optional `lengths` `(N,)`
    /// giving how many of the T steps each sequence really has.
    ///
    /// NaN in `x` marks a missing value; labels past a sequence's length are ignored.
    /// - Throws: `DataError.malformed` naming the array and what is wrong with its shape, type or values.
    public init(numPy x: NumPyArray, labels y: NumPyArray?, lengths: NumPyArray?, path: String, labelsPath: String? = nil,
                objective: SupervisedObjective? = nil) throws(DataError) {
        func fail(_ array: String, _ problem: String, expected: String, found: String,
                  hint: String = "Save x as (N, T, F) float32, y as (N,) or (N, T), lengths as (N,) integers.") -> DataError {
            .malformed(path: array == "y" ? (labelsPath ?? path) : path, problem: "\(array): \(problem)", expected: expected, found: found, hint: hint)
        }
        guard x.shape.count == 2 || x.shape.count == 3 else {
            throw fail("x", "\(x.shape.count) dimension(s)", expected: "(N, T, F) or (N, T)", found: x.shapeText)
        }
        let (N, T, F) = (x.shape[0], x.shape[1], x.shape.count == 3 ? x.shape[2] : 1)
        guard N > 0, T > 0, F > 0 else { throw fail("x", "an empty array", expected: "N, T and F ≥ 1", found: x.shapeText) }
        let values: [Float]
        switch x.elements {
        case let .floats(v): values = v
        case let .integers(v): values = v.map(Float.init)
        case .strings: throw fail("x", "text (dtype \(x.dtype))", expected: "numbers", found: x.dtype, hint: "Save x as float32.")
        }
        if let bad = values.firstIndex(where: \.isInfinite) {
            throw fail("x", "element \(bad) (sequence \(bad / (T * F)), step \(bad / F % T)) is infinite", expected: "finite numbers (NaN for missing)",
                       found: "\(values[bad])")
        }
        var steps = [Int](repeating: T, count: N)
        if let lengths {
            guard lengths.shape == [N], case let .integers(n) = lengths.elements else {
                throw fail("lengths", "shape \(lengths.shapeText), dtype \(lengths.dtype)", expected: "(\(N),) integers", found: lengths.shapeText)
            }
            if let bad = n.firstIndex(where: { $0 < 1 || $0 > T }) {
                throw fail("lengths", "sequence \(bad) has length \(n[bad])", expected: "1 … \(T) (x's T)", found: "\(n[bad])")
            }
            steps = n
        }
        var offsets = [0], kept: [Float] = []
        kept.reserveCapacity(steps.reduce(0, +) * F)
        for i in 0..<N {
            kept += values[(i * T * F)..<((i * T + steps[i]) * F)]
            offsets.append(offsets.last! + steps[i])
        }
        var labels = SequenceLabels.none, perStep = false
        if let y {
            perStep = y.shape.count == 2
            guard y.shape == [N] || y.shape == [N, T] else {
                throw fail("y", "shape \(y.shapeText)", expected: "(\(N),) for a label per sequence or (\(N), \(T)) for one per step",
                           found: y.shapeText)
            }
            // The labels that count: each sequence's, or its real steps'.
            let rows = perStep ? (0..<N).flatMap { i in (i * T)..<(i * T + steps[i]) } : Array(0..<N)
            let raw: LabelValues
            switch y.elements {
            case let .integers(v): raw = .integers(rows.map { v[$0] })
            case let .strings(v): raw = .texts(rows.map { v[$0] })
            case let .floats(v):
                let picked = rows.map { v[$0] }
                if let bad = picked.firstIndex(where: { !$0.isFinite }) {
                    throw fail("y", "label \(rows[bad]) is \(picked[bad])", expected: "finite labels", found: "\(picked[bad])",
                               hint: "Drop the unlabelled sequences, or give them a label.")
                }
                raw = .numbers(picked)
            }
            labels = try raw.interpreted(as: objective, path: labelsPath ?? path, what: "label")
        }
        self.init(features: F, values: kept, offsets: offsets, labels: labels, labelsPerStep: perStep)
    }

    /// Reads `.npz` (arrays `x`, optional `y` and `lengths`) or `.npy` (x, with labels from a
    /// second `.npy` file).
    public static func readNumPy(path: String, labelsPath: String? = nil, objective: SupervisedObjective? = nil)
        throws(DataError) -> SequenceDataset {
        if path.lowercased().hasSuffix(".npz") {
            let arrays = try NumPy.readArchive(path: path)
            guard let x = arrays["x"] else {
                throw .malformed(path: path, problem: "no array named x", expected: "arrays x, y (and optionally lengths)",
                                 found: "arrays \(arrays.keys.sorted().joined(separator: ", "))",
                                 hint: "Save with numpy.savez(path, x=x, y=y).")
            }
            let y = try labelsPath.map { (p: String) throws(DataError) in try NumPy.read(path: p) } ?? arrays["y"]
            return try SequenceDataset(numPy: x, labels: y, lengths: arrays["lengths"], path: path, labelsPath: labelsPath, objective: objective)
        }
        let x = try NumPy.read(path: path)
        let y = try labelsPath.map { (p: String) throws(DataError) in try NumPy.read(path: p) }
        return try SequenceDataset(numPy: x, labels: y, lengths: nil, path: path, labelsPath: labelsPath, objective: objective)
    }
}

/// Which columns of a long-form CSV (one row per step) make the sequences.
public struct LongFormColumns: Codable, Equatable, Sendable {
    /// Rows with the same value here form one sequence; nil makes the whole file one sequence.
    public var id: String?
    /// The feature columns; nil means every column but the id, label and order columns.
    public var features: [String]?
    /// The label column (per sequence, or per step when tagging).
    public var label: String?
    /// Steps are sorted by this column within each sequence (numbers by value, text as text);
    /// nil keeps the file's order.
    public var order: String?

    public init(id: String? = nil, features: [String]? = nil, label: String? = nil, order: String? = nil) {
        self.id = id
        self.features = features
        self.label = label
        self.order = order
    }
}

extension SequenceDataset {
    /// Sequences from a long-form CSV table (one row per step, pandas' and sktime's long format):
    /// rows grouped by `columns.id` in order of first appearance, steps in file order or by
    /// `columns.order`. Empty, `NA` or `?` features are missing values.
    ///
    /// With `perStep`, every row's label is its step's (tagging); otherwise a sequence's rows must
    /// all carry the same label.
    /// - Returns: the sequences, their ids, and the feature columns used, in order.
    public static func longForm(_ table: CSVTable, columns: LongFormColumns, perStep: Bool, objective: SupervisedObjective?,
                                path: String) throws(DataError) -> (data: SequenceDataset, ids: [String], features: [String]) {
        func fail(_ problem: String, expected: String, found: String, hint: String) -> DataError {
            .malformed(path: path, problem: problem, expected: expected, found: found, hint: hint)
        }
        let special = [columns.id, columns.label, columns.order].compactMap { $0 }
        for name in special + (columns.features ?? []) where table.columns[name] == nil {
            throw fail("no column '\(name)'", expected: "a column named '\(name)'", found: "columns \(table.header.prefix(30).joined(separator: ", "))",
                       hint: "Name one of the header's columns (names are case-sensitive).")
        }
        let featureNames = columns.features ?? table.header.filter { !special.contains($0) }
        guard !featureNames.isEmpty else {
            throw fail("no feature columns", expected: "at least one column of numbers", found: "only \(special.joined(separator: ", "))",
                       hint: "Name them with --features A,B,...")
        }
        let F = featureNames.count, rows = table.rowCount
        var featureColumns: [[Float]] = []
        for name in featureNames { featureColumns.append(try table.numbers(name, path: path)) }

        // Group rows into sequences, in order of each id's first row.
        var groups: [[Int]] = [], ids: [String] = []
        if let id = columns.id, let idColumn = table.columns[id] {
            var where_: [String: Int] = [:]
            for (row, value) in idColumn.enumerated() {
                let key = value.trimmingCharacters(in: .whitespaces)
                if let g = where_[key] {
                    groups[g].append(row)
                } else {
                    where_[key] = groups.count
                    groups.append([row])
                    ids.append(key)
                }
            }
        } else {
            groups = [Array(0..<rows)]
            ids = ["0"]
        }
        if let order = columns.order, let orderColumn = table.columns[order] {
            let fields = orderColumn.map { $0.trimmingCharacters(in: .whitespaces) }
            let numeric = fields.allMap { Double($0) }
            for g in groups.indices {
                groups[g].sort { a, b in numeric.map { $0[a] < $0[b] } ?? (fields[a] < fields[b]) }
                for (a, b) in zip(groups[g], groups[g].dropFirst()) where fields[a] == fields[b] {
                    throw fail("data rows \(a + 1) and \(b + 1) of sequence '\(ids[g])' share \(order) = \(fields[a])",
                               expected: "one row per step", found: "two", hint: "Remove the duplicate row.")
                }
            }
        }
        var values: [Float] = [], offsets = [0]
        values.reserveCapacity(rows * F)
        for group in groups {
            for row in group { for f in 0..<F { values.append(featureColumns[f][row]) } }
            offsets.append(offsets.last! + group.count)
        }
        var labels = SequenceLabels.none
        if let label = columns.label, let field = table.columns[label] {
            let fields = field.map { $0.trimmingCharacters(in: .whitespaces) }
            if let bad = fields.firstIndex(where: CSVTable.isMissing) {
                throw fail("data row \(bad + 1) has no \(label)", expected: "a label on every row", found: "'\(fields[bad])'",
                           hint: "Label the row, or remove it.")
            }
            var picked: [String] = []
            if perStep {
                picked = groups.flatMap { $0.map { fields[$0] } }
            } else {
                for (g, group) in groups.enumerated() {
                    if let other = group.first(where: { fields[$0] != fields[group[0]] }) {
                        throw fail("sequence '\(ids[g])' changes \(label) from '\(fields[group[0]])' to '\(fields[other])' at data row \(other + 1)",
                                   expected: "one label per sequence", found: "labels per step",
                                   hint: "Pass --per-step to label every step (tagging), or fix the label.")
                    }
                    picked.append(fields[group[0]])
                }
            }
            labels = try LabelValues(fields: picked).interpreted(as: objective, path: path, what: perStep ? "step label" : "sequence label")
        }
        return (SequenceDataset(features: F, values: values, offsets: offsets, labels: labels, labelsPerStep: perStep && columns.label != nil),
                ids, featureNames)
    }
}
