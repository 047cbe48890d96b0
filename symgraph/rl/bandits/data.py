"""Contextual bandits built on datasets: every pull shows one example, and the reward depends on its label.

Classification datasets become bandits the way Riquelme, Tucker & Snoek (2018, "Deep Bayesian Bandits
Showdown", section 5 and appendix) made them: one arm per class, reward 1 for the arm of the example's class
and 0 otherwise, so the expected regret of a pull is 1 for a wrong arm and 0 for the right one. Mushroom has
its own rewards (pass or eat). Examples are shown in a random order, reshuffled on :meth:`reset` and after
each full pass over the data.

Each dataset bandit reads the original UCI file from ``path`` (a file, or a folder holding it), by default
``default_data_dir() / <dataset>``; ``download=True`` fetches it from the UCI repository when it is missing,
and without the file the error says which file to put where.
"""

import io
import logging
from pathlib import Path

import numpy as np

from symgraph.rl.bandits._common import (
    DataFormatError,
    RandomStream,
    ShapeError,
    check_action,
    check_count,
    make_rng,
)
from symgraph.rl.bandits._files import read_text, resolve_data_file

__all__ = [
    "DataBasedBandit", "ClassificationBandit", "AdultDataBandit", "CensusDataBandit", "CovertypeDataBandit",
    "MagicDataBandit", "MushroomDataBandit", "StatlogDataBandit", "ADULT_OCCUPATIONS", "UCI_URL",
]

logger = logging.getLogger(__name__)

#: root of the original UCI machine-learning-databases folder
UCI_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases"


def _standardize(x):
    """Columns scaled to zero mean and unit variance (a constant column is only centred)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - x.mean(axis=0)) / std


class DataBasedBandit:
    """Base of the bandits that replay a dataset: one example (context) per pull, in shuffled order.

    Subclasses implement ``_compute_reward(action)`` (the sampled reward of ``action`` for the current
    example) and ``_expected_rewards()`` (the list of expected rewards of every action for it), and
    may override ``_get_context()``; ``reset`` and ``step`` come from this class.

    Args:
        contexts: ``(examples, features)`` array; stored as read-only float32.
        n_actions: number of arms.
        seed: None, int, ``numpy.random.SeedSequence`` or ``numpy.random.Generator`` (shuffling and any
            random rewards).
    """

    def __init__(self, contexts, n_actions, seed=None):
        contexts = np.array(contexts, dtype=np.float32)
        if contexts.ndim != 2:
            raise ShapeError(f"{type(self).__name__}: contexts must be a 2-D array (examples, features), got "
                             f"shape {contexts.shape}")
        if len(contexts) == 0:
            raise ValueError(f"{type(self).__name__}: the dataset has no examples")
        contexts.flags.writeable = False
        self._contexts = contexts
        self.n_actions = check_count(n_actions, "n_actions")
        self.context_dim = contexts.shape[1]
        self.len = len(contexts)
        self.rng = make_rng(seed, type(self).__name__)
        self._uniform = RandomStream(self.rng, "uniform")
        self._order = []
        self._idx = 0
        self._row = 0
        self.reset()

    def __len__(self):
        return self.len

    @property
    def arms(self):
        """int: number of arms (= ``n_actions``)."""
        return self.n_actions

    @property
    def contexts(self):
        """numpy.ndarray: all contexts, ``(len, context_dim)`` float32, in file order (read-only)."""
        return self._contexts

    @property
    def current_row(self):
        """int: index, in file order, of the example the current context comes from."""
        return self._row

    def _shuffle(self):
        self._order = self.rng.permutation(self.len).tolist()
        self._idx = 0
        self._row = self._order[0]

    def reset(self):
        """Shuffle the examples and return the first context."""
        self._shuffle()
        return self._get_context()

    def step(self, action):
        """Reward of ``action`` for the current example, then move to the next: ``(next_context, reward)``.

        Raises:
            ValueError: if ``action`` is not an integer in ``[0, n_actions)``.
        """
        a = check_action(action, self.n_actions, type(self).__name__)
        reward = self._compute_reward(a)
        self._idx += 1
        if self._idx == self.len:  # a full pass: start a new one in a new order
            self._shuffle()
        else:
            self._row = self._order[self._idx]
        return self._get_context(), reward

    def regret(self, action):
        """Expected regret of ``action`` for the current example: best expected reward minus its own."""
        a = check_action(action, self.n_actions, type(self).__name__)
        expected = self._expected_rewards()
        return max(expected) - expected[a]

    def expected_rewards(self):
        """numpy.ndarray: expected reward of every action for the current example."""
        return np.array(self._expected_rewards(), dtype=np.float64)

    def optimal_action(self):
        """int: an action with the highest expected reward for the current example (the lowest index)."""
        expected = self._expected_rewards()
        return expected.index(max(expected))

    def _get_context(self):
        return self._contexts[self._row]

    def _compute_reward(self, action):
        raise NotImplementedError

    def _expected_rewards(self):
        raise NotImplementedError

    def __repr__(self):
        return (f"{type(self).__name__}(len={self.len}, context_dim={self.context_dim}, "
                f"n_actions={self.n_actions})")


def _array(value, argument, owner):
    """``value`` as a numpy array, or a ShapeError naming the argument when it is ragged."""
    try:
        return np.asarray(value)
    except ValueError:
        raise ShapeError(f"{owner}: {argument} must be a rectangular array, got a ragged {type(value).__name__}"
                         ) from None


class ClassificationBandit(DataBasedBandit):
    """A classification dataset as a bandit: one arm per class, reward 1 for the example's class, else 0.

    Args:
        X: ``(examples, features)`` contexts.
        y: ``(examples,)`` integer class labels in ``[0, n_actions)``: label ``k`` is arm ``k`` (map other
            labels first, e.g. ``classes, y = numpy.unique(labels, return_inverse=True)``).
        n_actions: number of arms; default ``max(y) + 1``.
        normalize: scale each feature to zero mean and unit variance (as Riquelme et al. 2018 do).
        seed: None, int, SeedSequence or Generator.
        feature_names: optional name of each feature column.
        class_names: optional name of each arm's class.
    """

    def __init__(self, X, y, n_actions=None, normalize=False, seed=None, feature_names=None,
                 class_names=None):
        name = type(self).__name__
        X, y = _array(X, "X", name), _array(y, "y", name)
        if X.ndim != 2:
            raise ShapeError(f"{name}: X must be a 2-D array (examples, features), got shape {X.shape}")
        if y.ndim != 1 or len(y) != len(X):
            raise ShapeError(f"{name}: y must be a 1-D array with one label per row of X ({len(X)}), got "
                             f"shape {y.shape}")
        if X.dtype.kind not in "biuf":
            raise DataFormatError(f"{name}: X must be numeric, got dtype {X.dtype}")
        if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating)
                                                       and np.all(np.mod(y, 1) == 0))):
            raise DataFormatError(f"{name}: y must hold integer class labels 0..n_actions-1, got dtype "
                                  f"{y.dtype}; map labels to arms first, e.g. numpy.unique(y, "
                                  f"return_inverse=True)")
        labels = y.astype(np.int64)
        if n_actions is None:
            n_actions = int(labels.max()) + 1 if len(labels) else 1
        n_actions = check_count(n_actions, "n_actions")
        bad = (labels < 0) | (labels >= n_actions)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise DataFormatError(f"{name}: label {labels[i]} of example {i} is not an arm: labels must lie "
                                  f"in 0..{n_actions - 1} (y holds the arm of each row of X)")
        if not np.all(np.isfinite(X.astype(np.float64))):
            raise DataFormatError(f"{name}: X has non-finite values (NaN or inf)")
        if feature_names is not None and len(feature_names) != X.shape[1]:
            raise ValueError(f"{name}: {len(feature_names)} feature_names for {X.shape[1]} features")
        if class_names is not None and len(class_names) != n_actions:
            raise ValueError(f"{name}: {len(class_names)} class_names for {n_actions} arms")
        labels.flags.writeable = False
        self._labels = labels
        self._labels_list = labels.tolist()
        self.feature_names = None if feature_names is None else list(feature_names)
        self.class_names = None if class_names is None else list(class_names)
        super().__init__(_standardize(X) if normalize else X, n_actions, seed)

    @property
    def labels(self):
        """numpy.ndarray: arm of the right class for every example, in file order (read-only)."""
        return self._labels

    def _compute_reward(self, action):
        return 1.0 if action == self._labels_list[self._row] else 0.0

    def _expected_rewards(self):
        expected = [0.0] * self.n_actions
        expected[self._labels_list[self._row]] = 1.0
        return expected

    def regret(self, action):
        a = check_action(action, self.n_actions, type(self).__name__)
        return 0.0 if a == self._labels_list[self._row] else 1.0


# -- reading the UCI files -------------------------------------------------------------------------------
def _lines(text):
    """(line number, stripped line) of the non-empty lines."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line:
            yield number, line


def _one_hot(columns, names):
    """One-hot encode categorical columns (lists of strings), categories in sorted order, as pandas'
    ``get_dummies`` does; returns the ``(rows, total categories)`` matrix and the feature names."""
    blocks, features = [], []
    for column, name in zip(columns, names, strict=True):
        categories = sorted(set(column))
        index = {c: i for i, c in enumerate(categories)}
        block = np.zeros((len(column), len(categories)))
        block[np.arange(len(column)), [index[v] for v in column]] = 1.0
        blocks.append(block)
        features += [f"{name}={c}" for c in categories]
    if not blocks:
        return np.zeros((0, 0)), features
    return np.concatenate(blocks, axis=1), features


def _number(text, dataset, path, line, column):
    try:
        return float(text)
    except ValueError:
        raise DataFormatError(f"{dataset}: {path}, line {line}: column {column!r} should be a number, got "
                              f"{text!r}") from None


def _load_numeric(path, dataset, delimiter, columns, layout, skiprows=0, max_rows=None):
    """``numpy.loadtxt`` of an all-numeric file, with errors that say what the file should look like."""
    # numpy reads plain and .gz files itself; .Z needs our decompressor
    source = io.StringIO(read_text(path)) if Path(path).suffix == ".Z" else str(path)
    try:
        data = np.loadtxt(source, delimiter=delimiter, skiprows=skiprows, max_rows=max_rows, dtype=np.float64,
                          ndmin=2)
    except ValueError as error:
        raise DataFormatError(f"{dataset}: {path} is not in the expected format ({layout}): "
                              f"{error}") from None
    if data.shape[0] == 0:
        raise DataFormatError(f"{dataset}: {path} holds no examples (expected {layout})")
    if columns is not None and data.shape[1] != columns:
        raise DataFormatError(f"{dataset}: {path} has {data.shape[1]} columns per line; expected {columns} "
                              f"({layout})")
    return data


def _integer_labels(values, low, high, dataset, path, what):
    """Float column -> int labels in [low, high], or an error naming the first bad row."""
    labels = values.astype(np.int64)
    bad = (labels != values) | (labels < low) | (labels > high)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise DataFormatError(f"{dataset}: {path}, example {i + 1}: {what} must be an integer in "
                              f"{low}..{high}, got {values[i]:g}")
    return labels


#: the 14 occupations of the Adult dataset, in sorted order: arm ``k`` is ``ADULT_OCCUPATIONS[k]``
ADULT_OCCUPATIONS = (
    "Adm-clerical", "Armed-Forces", "Craft-repair", "Exec-managerial", "Farming-fishing", "Handlers-cleaners",
    "Machine-op-inspct", "Other-service", "Priv-house-serv", "Prof-specialty", "Protective-serv", "Sales",
    "Tech-support", "Transport-moving",
)

_ADULT_COLUMNS = ("age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                  "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
                  "native-country", "income")
_ADULT_NUMERIC = (0, 2, 4, 10, 11, 12)
_ADULT_CATEGORICAL = (1, 3, 5, 7, 8, 9, 13, 14)


class AdultDataBandit(ClassificationBandit):
    """Adult (census income) as a 14-armed bandit: guess the person's occupation (Riquelme et al., 2018).

    File ``adult.data`` (or ``adult.test``) from https://archive.ics.uci.edu/ml/datasets/Adult: 15
    comma-separated fields per line (age, workclass, fnlwgt, education, education-num, marital-status,
    occupation, relationship, race, sex, capital-gain, capital-loss, hours-per-week, native-country, income);
    lines with a missing value (``?``) are dropped. Arm ``k`` is occupation ``ADULT_OCCUPATIONS[k]``
    (alphabetical, as pandas category codes give). Context: the 6 numeric fields, then the other categorical
    fields (income included) one-hot encoded, categories sorted; names in ``feature_names``.

    Args:
        path: the file, or a folder holding it; default ``default_data_dir() / "adult"``.
        download: fetch the file from UCI when it is missing.
        normalize: scale each context feature to zero mean and unit variance.
        seed: None, int, SeedSequence or Generator.
        url: where to download from.
    """

    URL = f"{UCI_URL}/adult/adult.data"
    FILENAMES = ("adult.data", "adult.test")

    def __init__(self, path=None, download=False, normalize=True, seed=None, url=URL):
        path = resolve_data_file("Adult", path, self.FILENAMES, url, download)
        X, y, names, dropped = self.read(path)
        if dropped:
            logger.info("Adult: dropped %d lines with missing values", dropped)
        super().__init__(X, y, n_actions=len(ADULT_OCCUPATIONS), normalize=normalize, seed=seed,
                         feature_names=names, class_names=ADULT_OCCUPATIONS)

    @staticmethod
    def read(path):
        """Parse an Adult file: ``(X, labels, feature_names, lines dropped for missing values)``."""
        text = read_text(path)
        numeric, categorical, labels = [], [[] for _ in _ADULT_CATEGORICAL], []
        arm = {name: k for k, name in enumerate(ADULT_OCCUPATIONS)}
        dropped = 0
        for number, line in _lines(text):
            if line.startswith("|"):  # adult.test starts with a comment line
                continue
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != len(_ADULT_COLUMNS):
                raise DataFormatError(f"Adult: {path}, line {number}: expected {len(_ADULT_COLUMNS)} "
                                      f"comma-separated fields ({', '.join(_ADULT_COLUMNS)}), found "
                                      f"{len(fields)}")
            if "?" in fields:
                dropped += 1
                continue
            occupation = fields[6]
            if occupation not in arm:
                raise DataFormatError(f"Adult: {path}, line {number}: unknown occupation {occupation!r}; "
                                      f"expected one of {', '.join(ADULT_OCCUPATIONS)}")
            labels.append(arm[occupation])
            numeric.append([_number(fields[i], "Adult", path, number, _ADULT_COLUMNS[i])
                            for i in _ADULT_NUMERIC])
            for column, i in zip(categorical, _ADULT_CATEGORICAL, strict=True):
                column.append(fields[i].rstrip("."))  # adult.test writes "<=50K."
        if not labels:
            raise DataFormatError(f"Adult: {path} holds no complete examples")
        onehot, names = _one_hot(categorical, [_ADULT_COLUMNS[i] for i in _ADULT_CATEGORICAL])
        X = np.concatenate([np.array(numeric), onehot], axis=1)
        names = [_ADULT_COLUMNS[i] for i in _ADULT_NUMERIC] + names
        return X, np.array(labels), names, dropped


class CensusDataBandit(ClassificationBandit):
    """US Census 1990 as a 9-armed bandit: guess the occupation group ``dOccup`` (Riquelme et al., 2018).

    File ``USCensus1990.data.txt`` from https://archive.ics.uci.edu/ml/datasets/US+Census+Data+(1990): a
    header line of column names (``caseid``, ``dAge``, ..., ``dOccup``, ...), then comma-separated integer
    codes. Arm ``k`` is ``dOccup == k`` (codes 0..8). Context: the other columns except ``caseid``, as
    numbers, or one-hot encoded with ``one_hot=True`` (the paper's encoding; wide, so combine it with
    ``max_rows``).

    Args:
        path: the file, or a folder holding it; default ``default_data_dir() / "census"``.
        download: fetch the file (about 360 MB) from UCI when it is missing.
        normalize: scale each context feature to zero mean and unit variance.
        one_hot: one-hot encode every context column.
        max_rows: read only the first ``max_rows`` examples (the file has about 2.5 million).
        seed: None, int, SeedSequence or Generator.
        url: where to download from.
    """

    URL = f"{UCI_URL}/census1990-mld/USCensus1990.data.txt"
    FILENAMES = ("USCensus1990.data.txt",)
    N_OCCUPATIONS = 9

    def __init__(self, path=None, download=False, normalize=True, one_hot=False, max_rows=None, seed=None,
                 url=URL):
        path = resolve_data_file("Census", path, self.FILENAMES, url, download)
        X, y, names = self.read(path, max_rows=max_rows)
        if one_hot:
            X, names = _one_hot([[f"{v:g}" for v in column] for column in X.T], names)
        super().__init__(X, y, n_actions=self.N_OCCUPATIONS, normalize=normalize, seed=seed,
                         feature_names=names)

    @staticmethod
    def read(path, max_rows=None):
        """Parse a Census file: ``(X, labels, feature_names)``."""
        if max_rows is not None:
            max_rows = check_count(max_rows, "max_rows")
        with open(path, encoding="utf-8", errors="replace") as f:
            header = f.readline().strip()
        names = [h.strip() for h in header.split(",")]
        layout = "a header line of column names including dOccup, then comma-separated integers"
        if "dOccup" not in names:
            raise DataFormatError(f"Census: {path}: the first line should name the columns, dOccup among "
                                  f"them (as in USCensus1990.data.txt); got {header[:80]!r}")
        data = _load_numeric(path, "Census", ",", len(names), layout, skiprows=1, max_rows=max_rows)
        label_column = names.index("dOccup")
        labels = _integer_labels(data[:, label_column], 0, CensusDataBandit.N_OCCUPATIONS - 1, "Census", path,
                                 "dOccup")
        keep = [i for i, n in enumerate(names) if n not in ("dOccup", "caseid")]
        return data[:, keep], labels, [names[i] for i in keep]


class CovertypeDataBandit(ClassificationBandit):
    """Covertype as a 7-armed bandit: guess the forest cover type (Riquelme et al., 2018).

    File ``covtype.data.gz`` (or the uncompressed ``covtype.data``) from
    https://archive.ics.uci.edu/ml/datasets/covertype: 55 comma-separated integers per line, 54 features
    (10 quantitative, 4 wilderness-area and 40 soil-type indicators) and the cover type 1..7. Arm ``k`` is
    cover type ``k + 1``. Context: the 54 features.

    Args:
        path: the file, or a folder holding it; default ``default_data_dir() / "covertype"``.
        download: fetch the file from UCI when it is missing.
        normalize: scale each context feature to zero mean and unit variance.
        seed: None, int, SeedSequence or Generator.
        url: where to download from.
    """

    URL = f"{UCI_URL}/covtype/covtype.data.gz"
    FILENAMES = ("covtype.data.gz", "covtype.data")
    CLASS_NAMES = ("Spruce/Fir", "Lodgepole Pine", "Ponderosa Pine", "Cottonwood/Willow", "Aspen",
                   "Douglas-fir", "Krummholz")

    def __init__(self, path=None, download=False, normalize=True, seed=None, url=URL):
        path = resolve_data_file("Covertype", path, self.FILENAMES, url, download)
        X, y = self.read(path)
        super().__init__(X, y, n_actions=7, normalize=normalize, seed=seed, class_names=self.CLASS_NAMES)

    @staticmethod
    def read(path):
        """Parse a Covertype file: ``(X, labels)``."""
        layout = "55 comma-separated integers per line: 54 features, then the cover type 1..7"
        data = _load_numeric(path, "Covertype", ",", 55, layout)
        return data[:, :54], _integer_labels(data[:, 54], 1, 7, "Covertype", path, "the cover type") - 1


class MagicDataBandit(ClassificationBandit):
    """MAGIC gamma telescope as a 2-armed bandit: gamma (signal) or hadron (background).

    File ``magic04.data`` from https://archive.ics.uci.edu/ml/datasets/magic+gamma+telescope: 11
    comma-separated fields per line, 10 real features (fLength, fWidth, fSize, fConc, fConc1, fAsym,
    fM3Long, fM3Trans, fAlpha, fDist) and the class ``g`` or ``h``. Arm 0 is ``g``, arm 1 is ``h``.

    Args:
        path: the file, or a folder holding it; default ``default_data_dir() / "magic"``.
        download: fetch the file from UCI when it is missing.
        normalize: scale each context feature to zero mean and unit variance.
        seed: None, int, SeedSequence or Generator.
        url: where to download from.
    """

    URL = f"{UCI_URL}/magic/magic04.data"
    FILENAMES = ("magic04.data",)
    COLUMNS = ("fLength", "fWidth", "fSize", "fConc", "fConc1", "fAsym", "fM3Long", "fM3Trans", "fAlpha",
               "fDist")
    CLASSES = ("g", "h")

    def __init__(self, path=None, download=False, normalize=True, seed=None, url=URL):
        path = resolve_data_file("Magic", path, self.FILENAMES, url, download)
        X, y = self.read(path)
        super().__init__(X, y, n_actions=2, normalize=normalize, seed=seed, feature_names=self.COLUMNS,
                         class_names=("gamma", "hadron"))

    @staticmethod
    def read(path):
        """Parse a MAGIC file: ``(X, labels)``."""
        columns = MagicDataBandit.COLUMNS
        rows, labels = [], []
        for number, line in _lines(read_text(path)):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != 11:
                raise DataFormatError(f"Magic: {path}, line {number}: expected 11 comma-separated fields (10 "
                                      f"numbers, then the class g or h), found {len(fields)}")
            if fields[10] not in MagicDataBandit.CLASSES:
                raise DataFormatError(f"Magic: {path}, line {number}: the class must be 'g' (gamma) or 'h' "
                                      f"(hadron), got {fields[10]!r}")
            rows.append([_number(f, "Magic", path, number, c)
                         for f, c in zip(fields[:10], columns, strict=True)])
            labels.append(MagicDataBandit.CLASSES.index(fields[10]))
        if not rows:
            raise DataFormatError(f"Magic: {path} holds no examples")
        return np.array(rows), np.array(labels)


class StatlogDataBandit(ClassificationBandit):
    """Statlog (shuttle) as a 7-armed bandit: guess the radiator state (Riquelme et al., 2018).

    File ``shuttle.trn`` (or the original compressed ``shuttle.trn.Z``, or ``shuttle.tst``) from
    https://archive.ics.uci.edu/ml/datasets/Statlog+(Shuttle): 10 space-separated integers per line, 9
    attributes and the class 1..7 (Rad Flow, Fpv Close, Fpv Open, High, Bypass, Bpv Close, Bpv Open). Arm
    ``k`` is class ``k + 1``. Context: the 9 attributes.

    Args:
        path: the file, or a folder holding it; default ``default_data_dir() / "statlog"``.
        download: fetch ``shuttle.trn.Z`` from UCI when no file is there (decompressed here).
        normalize: scale each context feature to zero mean and unit variance.
        seed: None, int, SeedSequence or Generator.
        url: where to download from.
    """

    URL = f"{UCI_URL}/statlog/shuttle/shuttle.trn.Z"
    FILENAMES = ("shuttle.trn", "shuttle.trn.Z", "shuttle.tst")
    CLASS_NAMES = ("Rad Flow", "Fpv Close", "Fpv Open", "High", "Bypass", "Bpv Close", "Bpv Open")

    def __init__(self, path=None, download=False, normalize=True, seed=None, url=URL):
        path = resolve_data_file("Statlog", path, self.FILENAMES, url, download)
        X, y = self.read(path)
        super().__init__(X, y, n_actions=7, normalize=normalize, seed=seed, class_names=self.CLASS_NAMES)

    @staticmethod
    def read(path):
        """Parse a shuttle file: ``(X, labels)``."""
        layout = "10 space-separated integers per line: 9 attributes, then the class 1..7"
        data = _load_numeric(path, "Statlog", None, 10, layout)
        return data[:, :9], _integer_labels(data[:, 9], 1, 7, "Statlog", path, "the class") - 1


_MUSHROOM_COLUMNS = (
    "cap-shape", "cap-surface", "cap-color", "bruises?", "odor", "gill-attachment", "gill-spacing",
    "gill-size", "gill-color", "stalk-shape", "stalk-root", "stalk-surface-above-ring",
    "stalk-surface-below-ring", "stalk-color-above-ring", "stalk-color-below-ring", "veil-type",
    "veil-color", "ring-number", "ring-type", "spore-print-color", "population", "habitat",
)


class MushroomDataBandit(DataBasedBandit):
    """Mushroom as a 2-armed bandit: pass (arm 0) or eat (arm 1) (Riquelme et al., 2018, section 5).

    Passing pays ``r_pass`` (0). Eating an edible mushroom pays ``r_edible`` (+5); eating a poisonous one
    pays ``r_poisonous_lucky`` (+5) with probability ``lucky_prob`` (0.5), else ``r_poisonous_unlucky``
    (-35), an expected -15. So the best arm is to eat edible mushrooms and pass on poisonous ones, and the
    expected regret uses these expected rewards.

    File ``agaricus-lepiota.data`` from https://archive.ics.uci.edu/ml/datasets/Mushroom: 23
    comma-separated one-letter fields per line, the class ``e`` (edible) or ``p`` (poisonous) first, then 22
    attributes (``?`` marks a missing stalk-root and is kept as its own category). Context: the attributes
    one-hot encoded, categories sorted (117 features on the full file); names in ``feature_names``.

    Args:
        path: the file, or a folder holding it; default ``default_data_dir() / "mushroom"``.
        download: fetch the file from UCI when it is missing.
        seed: None, int, SeedSequence or Generator (shuffling and the poisonous coin).
        url: where to download from.
    """

    URL = f"{UCI_URL}/mushroom/agaricus-lepiota.data"
    FILENAMES = ("agaricus-lepiota.data",)

    def __init__(self, path=None, download=False, r_pass=0.0, r_edible=5.0, r_poisonous_lucky=5.0,
                 r_poisonous_unlucky=-35.0, lucky_prob=0.5, seed=None, url=URL):
        if not 0.0 <= lucky_prob <= 1.0:
            raise ValueError(f"lucky_prob must lie in [0, 1], got {lucky_prob!r}")
        path = resolve_data_file("Mushroom", path, self.FILENAMES, url, download)
        X, edible, names = self.read(path)
        self.r_pass = float(r_pass)
        self.r_edible = float(r_edible)
        self.r_poisonous_lucky = float(r_poisonous_lucky)
        self.r_poisonous_unlucky = float(r_poisonous_unlucky)
        self.lucky_prob = float(lucky_prob)
        self.r_poisonous_expected = lucky_prob * r_poisonous_lucky + (1 - lucky_prob) * r_poisonous_unlucky
        edible.flags.writeable = False
        self._edible = edible
        self._edible_list = edible.tolist()
        self.feature_names = names
        super().__init__(X, 2, seed)

    @property
    def edible(self):
        """numpy.ndarray: True for the edible examples, in file order (read-only)."""
        return self._edible

    @staticmethod
    def read(path):
        """Parse a Mushroom file: ``(X, edible, feature_names)``."""
        classes, columns = [], [[] for _ in _MUSHROOM_COLUMNS]
        for number, line in _lines(read_text(path)):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != 23:
                raise DataFormatError(f"Mushroom: {path}, line {number}: expected 23 comma-separated fields "
                                      f"(the class e or p, then 22 attributes), found {len(fields)}")
            if fields[0] not in ("e", "p"):
                raise DataFormatError(f"Mushroom: {path}, line {number}: the first field must be the class "
                                      f"'e' (edible) or 'p' (poisonous), got {fields[0]!r}")
            classes.append(fields[0] == "e")
            for column, value in zip(columns, fields[1:], strict=True):
                column.append(value)
        if not classes:
            raise DataFormatError(f"Mushroom: {path} holds no examples")
        X, names = _one_hot(columns, _MUSHROOM_COLUMNS)
        return X, np.array(classes), names

    def _compute_reward(self, action):
        if action == 0:
            return self.r_pass
        if self._edible_list[self._row]:
            return self.r_edible
        return self.r_poisonous_lucky if self._uniform() < self.lucky_prob else self.r_poisonous_unlucky

    def _expected_rewards(self):
        eat = self.r_edible if self._edible_list[self._row] else self.r_poisonous_expected
        return [self.r_pass, eat]
