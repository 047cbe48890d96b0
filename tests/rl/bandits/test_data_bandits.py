"""Data-based bandits: small files in each dataset's original format, rewards, label-to-arm maps, errors."""

import gzip
import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from symgraph.errors import ShapeError
from symgraph.rl.bandits import (
    ADULT_OCCUPATIONS,
    AdultDataBandit,
    CensusDataBandit,
    ClassificationBandit,
    CovertypeDataBandit,
    DataFormatError,
    DataNotFoundError,
    MagicDataBandit,
    MushroomDataBandit,
    StatlogDataBandit,
)
from symgraph.rl.bandits._files import unlzw


def check_classification_rewards(bandit, arm_of_row, steps=None, seed=0):
    """At every step: reward 1 only for the arm of the current example's class, expected regret 1 - that."""
    rng = np.random.default_rng(seed)
    bandit.reset()
    seen = []
    for _ in range(steps or 2 * len(bandit)):
        row = bandit.current_row
        seen.append(row)
        right = arm_of_row[row]
        assert bandit.optimal_action() == right
        expected = np.zeros(bandit.n_actions)
        expected[right] = 1.0
        np.testing.assert_array_equal(bandit.expected_rewards(), expected)
        for a in range(bandit.n_actions):
            assert bandit.regret(a) == (0.0 if a == right else 1.0)
        action = right if rng.random() < 0.5 else int(rng.integers(bandit.n_actions))
        _, reward = bandit.step(action)
        assert reward == (1.0 if action == right else 0.0)
    # shuffled passes over the data: every example once per pass
    first_pass = seen[: len(bandit)]
    assert sorted(first_pass) == list(range(len(bandit)))
    return seen


# -- Adult -------------------------------------------------------------------------------------------------
ADULT_ROW = ("{age}, {workclass}, 77516, {education}, 13, Never-married, {occupation}, Not-in-family, White, "
             "{sex}, 2174, 0, 40, United-States, {income}")


def adult_lines(test_file=False):
    lines = ["|1x3 Cross validator"] if test_file else []
    occupations = []
    for i, occupation in enumerate(reversed(ADULT_OCCUPATIONS)):
        income = ">50K" if i % 3 == 0 else "<=50K"
        lines.append(ADULT_ROW.format(age=20 + i, workclass=["Private", "State-gov"][i % 2],
                                      occupation=occupation,
                                      education=["Bachelors", "HS-grad", "Masters"][i % 3],
                                      sex=["Male", "Female"][i % 2],
                                      income=income + ("." if test_file else "")))
        occupations.append(occupation)
    # a line with a missing value is dropped
    lines.append(ADULT_ROW.format(age=50, workclass="?", occupation="?", education="Bachelors", sex="Male",
                                  income="<=50K"))
    return lines, occupations


@pytest.mark.parametrize("test_file", [False, True])
def test_adult_occupation_is_the_arm(tmp_path, test_file):
    lines, occupations = adult_lines(test_file)
    name = "adult.test" if test_file else "adult.data"
    (tmp_path / name).write_text("\n".join(lines) + "\n\n")
    bandit = AdultDataBandit(path=tmp_path, normalize=False, seed=0)
    assert bandit.n_actions == 14 and len(bandit) == 14
    arms = [ADULT_OCCUPATIONS.index(o) for o in occupations]
    np.testing.assert_array_equal(bandit.labels, arms)
    assert bandit.class_names[arms[0]] == occupations[0]
    check_classification_rewards(bandit, arms)
    names = bandit.feature_names
    assert names[:6] == ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    assert "income=>50K" in names and "income=<=50K" in names and "workclass=State-gov" in names
    assert not any(n.startswith("occupation") for n in names)
    context = bandit.contexts[3]
    assert context[0] == 23  # age of the fourth line
    assert context[names.index("workclass=State-gov")] == 1.0
    assert context[names.index("workclass=Private")] == 0.0
    assert context[names.index("income=>50K")] == 1.0
    assert bandit.context_dim == len(names)


def test_adult_normalized_contexts(tmp_path):
    (tmp_path / "adult.data").write_text("\n".join(adult_lines()[0]))
    contexts = AdultDataBandit(path=tmp_path / "adult.data", seed=0).contexts
    np.testing.assert_allclose(contexts.mean(axis=0), 0, atol=1e-6)
    raw = AdultDataBandit(path=tmp_path / "adult.data", normalize=False).contexts
    constant = raw.std(axis=0) == 0  # constant columns are only centred
    assert constant.any() and not constant.all()
    np.testing.assert_allclose(contexts.std(axis=0), np.where(constant, 0, 1), atol=1e-5)


def test_adult_malformed(tmp_path):
    path = tmp_path / "adult.data"
    path.write_text(ADULT_ROW.format(age=30, workclass="Private", occupation="Sales", education="HS-grad",
                                     sex="Male", income="<=50K") + ", extra\n")
    with pytest.raises(DataFormatError, match=r"Adult: .*adult.data, line 1: expected 15 comma-separated"):
        AdultDataBandit(path=path)
    path.write_text(ADULT_ROW.format(age=30, workclass="Private", occupation="Astronaut", education="HS-grad",
                                     sex="Male", income="<=50K"))
    with pytest.raises(DataFormatError, match="line 1: unknown occupation 'Astronaut'; expected one of"):
        AdultDataBandit(path=path)
    path.write_text(ADULT_ROW.format(age="thirty", workclass="Private", occupation="Sales",
                                     education="HS-grad", sex="Male", income="<=50K"))
    with pytest.raises(DataFormatError, match="line 1: column 'age' should be a number, got 'thirty'"):
        AdultDataBandit(path=path)


# -- Census ------------------------------------------------------------------------------------------------
CENSUS_HEADER = (
    "caseid,dAge,dAncstry1,dAncstry2,iAvail,iCitizen,iClass,dDepart,iDisabl1,iDisabl2,iEnglish,iFeb55,iFertil,"
    "dHispanic,dHour89,dHours,iImmigr,dIncome1,dIncome2,dIncome3,dIncome4,dIncome5,dIncome6,dIncome7,dIncome8,"
    "dIndustry,iKorean,iLang1,iLooking,iMarital,iMay75880,iMeans,iMilitary,iMobility,iMobillim,dOccup,iOthrserv,"
    "iPerscare,dPOB,dPoverty,dPwgt1,iRagechld,dRearning,iRelat1,iRelat2,iRemplpar,iRiders,iRlabor,iRownchld,"
    "dRpincome,iRPOB,iRrelchld,iRspouse,iRvetserv,iSchool,iSept80,iSex,iSubfam1,iSubfam2,iTmpabsnt,dTravtime,"
    "iVietnam,dWeek89,iWork89,iWorklwk,iWWII,iYearsch,iYearwrk,dYrsserv"
).split(",")


def write_census(path, occupations):
    rng = np.random.default_rng(0)
    rows = [",".join(CENSUS_HEADER)]
    for i, occupation in enumerate(occupations):
        values = rng.integers(0, 5, len(CENSUS_HEADER))
        values[0] = 10000 + i
        values[CENSUS_HEADER.index("dOccup")] = occupation
        rows.append(",".join(str(v) for v in values))
    path.write_text("\n".join(rows) + "\n")


def test_census_doccup_is_the_arm(tmp_path):
    occupations = [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 0, 3]
    path = tmp_path / "USCensus1990.data.txt"
    write_census(path, occupations)
    bandit = CensusDataBandit(path=tmp_path, normalize=False, seed=1)
    assert (bandit.n_actions, len(bandit), bandit.context_dim) == (9, 12, 67)
    np.testing.assert_array_equal(bandit.labels, occupations)  # dOccup k is arm k (GenRL used k - 1)
    assert "dOccup" not in bandit.feature_names and "caseid" not in bandit.feature_names
    check_classification_rewards(bandit, occupations)
    assert len(CensusDataBandit(path=path, max_rows=5, seed=0)) == 5
    wide = CensusDataBandit(path=path, one_hot=True, normalize=False, seed=0)
    assert set(np.unique(wide.contexts)) <= {0.0, 1.0}
    assert np.all(wide.contexts.reshape(12, -1).sum(axis=1) == 67)


def test_census_malformed(tmp_path):
    path = tmp_path / "USCensus1990.data.txt"
    write_census(path, [9])
    message = r"Census: .*example 1: dOccup must be an integer in 0..8, got 9$"
    with pytest.raises(DataFormatError, match=message):
        CensusDataBandit(path=path)
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataFormatError, match="the first line should name the columns, dOccup among them"):
        CensusDataBandit(path=path)
    path.write_text("caseid,dAge,dOccup\n1,2,3\n4,5\n")
    with pytest.raises(DataFormatError, match="not in the expected format"):
        CensusDataBandit(path=path)


# -- Covertype ---------------------------------------------------------------------------------------------
def covertype_text(classes):
    rng = np.random.default_rng(0)
    lines = []
    for cover in classes:
        features = np.concatenate([rng.integers(0, 3000, 10), np.eye(4, dtype=int)[rng.integers(4)],
                                   np.eye(40, dtype=int)[rng.integers(40)]])
        lines.append(",".join(str(v) for v in [*features, cover]))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["covtype.data.gz", "covtype.data"])
def test_covertype_cover_type_k_is_arm_k_minus_1(tmp_path, name):
    classes = [1, 2, 3, 4, 5, 6, 7, 7, 2, 1]
    text = covertype_text(classes)
    if name.endswith(".gz"):
        with gzip.open(tmp_path / name, "wt") as f:
            f.write(text)
    else:
        (tmp_path / name).write_text(text)
    bandit = CovertypeDataBandit(path=tmp_path, normalize=False, seed=0)
    assert (bandit.n_actions, bandit.context_dim, len(bandit)) == (7, 54, 10)
    arms = [c - 1 for c in classes]
    np.testing.assert_array_equal(bandit.labels, arms)
    check_classification_rewards(bandit, arms)
    first = [int(v) for v in text.splitlines()[0].split(",")[:54]]
    np.testing.assert_array_equal(bandit.contexts[0], first)


def test_covertype_malformed(tmp_path):
    path = tmp_path / "covtype.data"
    path.write_text(covertype_text([8]))
    with pytest.raises(DataFormatError, match=r"the cover type must be an integer in 1..7, got 8"):
        CovertypeDataBandit(path=path)
    path.write_text("1,2,3\n")
    with pytest.raises(DataFormatError, match="has 3 columns per line; expected 55"):
        CovertypeDataBandit(path=path)
    path.write_text(covertype_text([1]).replace(",1\n", ",x\n"))
    with pytest.raises(DataFormatError, match="Covertype: .*not in the expected format"):
        CovertypeDataBandit(path=path)
    bad_gz = tmp_path / "covtype.data.gz"
    bad_gz.write_bytes(b"not gzip at all")
    with pytest.raises((DataFormatError, OSError)):
        CovertypeDataBandit(path=bad_gz)


# -- Magic -------------------------------------------------------------------------------------------------
MAGIC_LINES = [
    "28.7967,16.0021,2.6449,0.3918,0.1982,27.7004,22.011,-8.2027,40.092,81.8828,g",
    "31.6036,11.7235,2.5185,0.5303,0.3773,26.2722,23.8238,-9.9574,6.3609,205.261,g",
    "162.052,136.031,4.0612,0.0374,0.0187,116.741,-64.858,-45.216,76.96,256.788,g",
    "93.7035,37.9432,3.1454,0.168,0.1011,53.2566,89.0566,-42.2622,55.4044,154.135,h",
    "75.1362,30.9205,3.1611,0.3168,0.1832,-5.5277,28.5525,21.8393,4.648,356.462,h",
]


def test_magic_g_is_arm_0_and_h_arm_1(tmp_path):
    (tmp_path / "magic04.data").write_text("\n".join(MAGIC_LINES) + "\n")
    bandit = MagicDataBandit(path=tmp_path / "magic04.data", normalize=False, seed=0)
    assert (bandit.n_actions, bandit.context_dim) == (2, 10)
    arms = [0, 0, 0, 1, 1]
    np.testing.assert_array_equal(bandit.labels, arms)
    check_classification_rewards(bandit, arms)
    np.testing.assert_allclose(bandit.contexts[3], [float(v) for v in MAGIC_LINES[3].split(",")[:10]],
                               rtol=1e-6)


def test_magic_malformed(tmp_path):
    path = tmp_path / "magic04.data"
    path.write_text(MAGIC_LINES[0] + "\n" + MAGIC_LINES[1].replace(",g", ",x"))
    with pytest.raises(DataFormatError, match=r"line 2: the class must be 'g' \(gamma\) or 'h' \(hadron\)"):
        MagicDataBandit(path=path)
    path.write_text(MAGIC_LINES[0].replace("28.7967", "abc"))
    with pytest.raises(DataFormatError, match="line 1: column 'fLength' should be a number, got 'abc'"):
        MagicDataBandit(path=path)
    path.write_text("1,2,g\n")
    with pytest.raises(DataFormatError, match="line 1: expected 11 comma-separated fields"):
        MagicDataBandit(path=path)


# -- Statlog (shuttle), including the original compressed .Z file ------------------------------------------
def compress_lzw(data, max_bits=16):
    """Unix ``compress`` (LZW, block mode), written after compress.c's output(); its output decompresses
    with ``gzip -d`` (checked in test_lzw_matches_gzip when gzip is installed)."""
    bitstream, state = [], {"bits": 9, "max_code": 511, "position": 0, "group_start": 0}
    max_max_code = 1 << max_bits

    def emit(code, free, clear=False):
        bitstream.append((code, state["bits"]))
        state["position"] += state["bits"]
        if free > state["max_code"] or clear:
            pad = -(state["position"] - state["group_start"]) % (state["bits"] * 8)
            bitstream.append((0, pad))
            state["position"] += pad
            state["group_start"] = state["position"]
            if clear:
                state["bits"], state["max_code"] = 9, 511
            else:
                state["bits"] += 1
                state["max_code"] = max_max_code if state["bits"] == max_bits else (1 << state["bits"]) - 1

    table, free = {bytes([i]): i for i in range(256)}, 257
    word = data[:1]
    for byte in data[1:]:
        longer = word + bytes([byte])
        if longer in table:
            word = longer
            continue
        emit(table[word], free)
        if free < max_max_code:
            table[longer] = free
            free += 1
        else:
            table, free = {bytes([i]): i for i in range(256)}, 257
            emit(256, free, clear=True)
        word = bytes([byte])
    if word:
        emit(table[word], free)
    out, accumulator, count = bytearray([0x1F, 0x9D, 0x80 | max_bits]), 0, 0
    for value, width in bitstream:
        accumulator |= value << count
        count += width
        while count >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            count -= 8
    if count:
        out.append(accumulator & 0xFF)
    return bytes(out)


def test_unlzw_golden_bytes():
    # "TOBEORNOTTOBEORTOBEORNOT#" compressed by the LZW coder above; `gzip -dc` gives the same text back
    data = bytes.fromhex("1f9d90549e0829f2448a932754020e2ca890a041842300")
    assert unlzw(data) == b"TOBEORNOTTOBEORTOBEORNOT#"


@pytest.mark.parametrize("max_bits", [9, 12, 16])
def test_unlzw_roundtrip_with_width_changes_and_clears(max_bits):
    rng = np.random.default_rng(max_bits)
    text = "\n".join(" ".join(str(v) for v in rng.integers(-50, 150, 10)) for _ in range(3000)).encode()
    noise = rng.integers(0, 256, 40_000).astype(np.uint8).tobytes()  # fills the table: clear codes
    for data in (text, noise, b"a", b"abababababababababab"):
        assert unlzw(compress_lzw(data, max_bits)) == data


@pytest.mark.skipif(shutil.which("gzip") is None, reason="gzip is not installed")
def test_lzw_matches_gzip():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 40, 100_000).astype(np.uint8).tobytes()
    compressed = compress_lzw(data, 12)
    assert subprocess.run(["gzip", "-dc"], input=compressed, capture_output=True, check=True).stdout == data


def test_unlzw_errors():
    with pytest.raises(DataFormatError, match=r"is not a Unix compress \(.Z\) file: it does not start with"):
        unlzw(b"hello")
    with pytest.raises(DataFormatError, match="maximum code width 20 is outside 9..16"):
        unlzw(bytes([0x1F, 0x9D, 0x80 | 20, 0, 0]))


STATLOG_LINES = ["50 21 77 0 28 0 27 48 22 2", "55 0 92 0 0 26 36 92 56 4", "53 0 82 0 52 -5 29 30 2 1",
                 "37 0 76 0 28 18 40 48 8 1", "37 0 79 0 34 -26 43 46 2 1", "85 0 88 -4 6 1 3 83 80 5",
                 "56 0 81 0 -4 11 25 86 62 4", "55 -1 95 -3 54 -4 40 41 2 1", "53 8 77 0 28 0 23 48 24 3",
                 "41 0 79 0 38 -25 38 40 2 6", "40 0 76 0 32 -11 36 44 8 7"]


@pytest.mark.parametrize("name", ["shuttle.trn", "shuttle.trn.Z", "shuttle.tst"])
def test_statlog_class_k_is_arm_k_minus_1(tmp_path, name):
    text = "\n".join(STATLOG_LINES) + "\n"
    if name.endswith(".Z"):
        (tmp_path / name).write_bytes(compress_lzw(text.encode()))
    else:
        (tmp_path / name).write_text(text)
    bandit = StatlogDataBandit(path=tmp_path, normalize=False, seed=0)
    assert (bandit.n_actions, bandit.context_dim, len(bandit)) == (7, 9, 11)
    arms = [int(line.split()[-1]) - 1 for line in STATLOG_LINES]  # GenRL compared the class with the arm
    np.testing.assert_array_equal(bandit.labels, arms)
    check_classification_rewards(bandit, arms)
    np.testing.assert_array_equal(bandit.contexts[1], [55, 0, 92, 0, 0, 26, 36, 92, 56])


def test_statlog_malformed(tmp_path):
    path = tmp_path / "shuttle.trn"
    path.write_text("50 21 77 0 28 0 27 48 22 0\n")
    with pytest.raises(DataFormatError, match=r"Statlog: .*the class must be an integer in 1..7, got 0"):
        StatlogDataBandit(path=path)
    path.write_text("50,21,77,0,28,0,27,48,22,2\n")
    with pytest.raises(DataFormatError, match=r"10 space-separated integers per line"):
        StatlogDataBandit(path=path)
    (tmp_path / "shuttle.trn.Z").write_bytes(b"plain text, not compressed")
    with pytest.raises(DataFormatError, match=r"not a Unix compress \(.Z\) file"):
        StatlogDataBandit(path=tmp_path / "shuttle.trn.Z")


# -- Mushroom ----------------------------------------------------------------------------------------------
MUSHROOM_LINES = [
    "p,x,s,n,t,p,f,c,n,k,e,e,s,s,w,w,p,w,o,p,k,s,u",
    "e,x,s,y,t,a,f,c,b,k,e,c,s,s,w,w,p,w,o,p,n,n,g",
    "e,b,s,w,t,l,f,c,b,n,e,c,s,s,w,w,p,w,o,p,n,n,m",
    "p,x,y,w,t,p,f,c,n,n,e,e,s,s,w,w,p,w,o,p,k,s,u",
    "e,x,s,g,f,n,f,w,b,k,t,e,s,s,w,w,p,w,o,e,n,a,g",
    "p,x,y,n,f,f,f,c,n,b,t,?,s,s,p,w,p,w,o,l,h,v,p",
]


def mushroom_bandit(tmp_path, **kwargs):
    (tmp_path / "agaricus-lepiota.data").write_text("\n".join(MUSHROOM_LINES) + "\n")
    return MushroomDataBandit(path=tmp_path, **kwargs)


def test_mushroom_contexts_are_one_hot_attributes(tmp_path):
    bandit = mushroom_bandit(tmp_path, seed=0)
    np.testing.assert_array_equal(bandit.edible, [False, True, True, False, True, False])
    columns = list(zip(*[line.split(",")[1:] for line in MUSHROOM_LINES], strict=True))
    assert bandit.context_dim == sum(len(set(c)) for c in columns)
    assert "stalk-root=?" in bandit.feature_names and "cap-shape=b" in bandit.feature_names
    np.testing.assert_array_equal(bandit.contexts.sum(axis=1), 22)
    first = bandit.contexts[0]
    assert first[bandit.feature_names.index("cap-shape=x")] == 1.0
    assert first[bandit.feature_names.index("odor=p")] == 1.0
    assert first[bandit.feature_names.index("odor=a")] == 0.0


def test_mushroom_rewards_and_expected_regret(tmp_path):
    bandit = mushroom_bandit(tmp_path, seed=0)
    eats_poison = []
    bandit.reset()
    for step in range(6000):
        row = bandit.current_row
        edible = bandit.edible[row]
        # pass 0; eat: edible +5, poisonous +5 or -35 (expected -15)
        np.testing.assert_array_equal(bandit.expected_rewards(), [0.0, 5.0] if edible else [0.0, -15.0])
        assert bandit.optimal_action() == (1 if edible else 0)
        assert bandit.regret(0) == (5.0 if edible else 0.0)
        assert bandit.regret(1) == (0.0 if edible else 15.0)
        action = step % 2
        _, reward = bandit.step(action)
        if action == 0:
            assert reward == 0.0
        elif edible:
            assert reward == 5.0
        else:
            eats_poison.append(reward)
    rewards = np.array(eats_poison)
    assert set(np.unique(rewards)) == {-35.0, 5.0}
    unlucky = int(np.sum(rewards == -35.0))
    assert len(rewards) > 1000
    assert stats.binomtest(unlucky, len(rewards), 0.5).pvalue > 1e-3


def test_mushroom_custom_rewards_change_the_best_arm(tmp_path):
    bandit = mushroom_bandit(tmp_path, r_poisonous_unlucky=-1.0, lucky_prob=0.75, seed=0)
    assert bandit.r_poisonous_expected == pytest.approx(0.75 * 5 - 0.25)
    for _ in range(len(bandit)):
        assert bandit.optimal_action() == 1  # eating always pays more on average
        bandit.step(0)


def test_mushroom_malformed(tmp_path):
    path = tmp_path / "agaricus-lepiota.data"
    path.write_text(MUSHROOM_LINES[0] + "\nx" + MUSHROOM_LINES[1][1:])
    with pytest.raises(DataFormatError, match=r"line 2: the first field must be the class 'e' \(edible\)"):
        MushroomDataBandit(path=path)
    path.write_text("e,x,s\n")
    with pytest.raises(DataFormatError, match="line 1: expected 23 comma-separated fields"):
        MushroomDataBandit(path=path)
    path.write_text("\n\n")
    with pytest.raises(DataFormatError, match="holds no examples"):
        MushroomDataBandit(path=path)


def test_mushroom_action_out_of_range(tmp_path):
    bandit = mushroom_bandit(tmp_path, seed=0)
    message = "action 2 is out of range for MushroomDataBandit: valid actions are 0 to 1"
    with pytest.raises(ValueError, match=message):
        bandit.step(2)


# -- finding and downloading files -------------------------------------------------------------------------
@pytest.mark.parametrize("cls, filename", [
    (AdultDataBandit, "adult.data"), (CensusDataBandit, "USCensus1990.data.txt"),
    (CovertypeDataBandit, "covtype.data.gz"), (MagicDataBandit, "magic04.data"),
    (MushroomDataBandit, "agaricus-lepiota.data"), (StatlogDataBandit, "shuttle.trn.Z"),
])
def test_missing_file_says_where_to_put_which_file(tmp_path, monkeypatch, cls, filename):
    monkeypatch.setenv("SYMGRAPH_DATA_DIR", str(tmp_path / "cache"))
    dataset = cls.__name__.removesuffix("DataBandit")
    folder = tmp_path / "cache" / dataset.lower()
    message = (rf"{dataset} data not found: .*Download https://archive.ics.uci.edu/ml/.*/{filename} and save "
               rf"it as {folder / filename}")
    with pytest.raises(DataNotFoundError, match=message):
        cls()
    with pytest.raises(FileNotFoundError, match=rf"save it as {tmp_path / 'mine' / filename}"):
        cls(path=tmp_path / "mine")


def test_missing_explicit_file(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no file at .*magic.csv. Download .* as .*magic.csv"):
        MagicDataBandit(path=tmp_path / "magic.csv")


def test_download_fetches_into_the_cache_folder(tmp_path, monkeypatch):
    # a file:// URL exercises the download path without network access
    source = tmp_path / "mirror" / "magic04.data"
    source.parent.mkdir()
    source.write_text("\n".join(MAGIC_LINES) + "\n")
    monkeypatch.setenv("SYMGRAPH_DATA_DIR", str(tmp_path / "cache"))
    bandit = MagicDataBandit(download=True, url=source.as_uri(), seed=0)
    assert len(bandit) == 5
    assert (tmp_path / "cache" / "magic" / "magic04.data").read_text() == source.read_text()
    assert not list((tmp_path / "cache" / "magic").glob("*.part"))
    # the next time the file is found without downloading
    assert len(MagicDataBandit(url="file:///nonexistent/magic04.data", seed=0)) == 5


def test_failed_download_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAPH_DATA_DIR", str(tmp_path / "cache"))
    missing = (tmp_path / "nowhere" / "magic04.data").as_uri()
    with pytest.raises(DataNotFoundError, match=rf"could not download {missing} .*put it at "
                                                rf"{tmp_path / 'cache' / 'magic' / 'magic04.data'}"):
        MagicDataBandit(download=True, url=missing)
    assert not (tmp_path / "cache" / "magic" / "magic04.data.part").exists()


# -- the generic classification bandit ---------------------------------------------------------------------
def test_classification_bandit_from_arrays():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, 30)
    bandit = ClassificationBandit(X, y, seed=0)
    assert (bandit.n_actions, bandit.context_dim, len(bandit)) == (3, 4, 30)
    seen = check_classification_rewards(bandit, y, steps=90)
    # three shuffled passes, each a permutation, in different orders
    passes = [seen[i * 30:(i + 1) * 30] for i in range(3)]
    assert all(sorted(p) == list(range(30)) for p in passes) and passes[0] != passes[1]
    context = bandit.reset()
    np.testing.assert_allclose(context, X[bandit.current_row], rtol=1e-6)
    assert context.dtype == np.float32
    assert ClassificationBandit(X, y, n_actions=5).n_actions == 5
    normalized = ClassificationBandit(X, y, normalize=True).contexts
    np.testing.assert_allclose(normalized.std(axis=0), 1, atol=1e-5)


def test_classification_bandit_errors():
    X = np.zeros((4, 2))
    with pytest.raises(ShapeError, match=r"X must be a 2-D array \(examples, features\), got shape \(4,\)"):
        ClassificationBandit(np.zeros(4), [0, 1, 0, 1])
    with pytest.raises(ShapeError, match=r"y must be a 1-D array with one label per row of X \(4\)"):
        ClassificationBandit(X, [0, 1, 0])
    with pytest.raises(DataFormatError, match=r"label 3 of example 2 is not an arm: labels must lie in 0..2"):
        ClassificationBandit(X, [0, 1, 3, 1], n_actions=3)
    with pytest.raises(DataFormatError, match=r"label -1 of example 0 is not an arm"):
        ClassificationBandit(X, [-1, 1, 0, 1])
    with pytest.raises(DataFormatError, match=r"y must hold integer class labels.*numpy.unique"):
        ClassificationBandit(X, ["a", "b", "a", "b"])
    with pytest.raises(DataFormatError, match="X has non-finite values"):
        ClassificationBandit(np.full((4, 2), np.nan), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="the dataset has no examples"):
        ClassificationBandit(np.zeros((0, 2)), np.zeros(0, dtype=int), n_actions=2)
    bandit = ClassificationBandit(X, [0, 1, 0, 1])
    message = "action 2 is out of range for ClassificationBandit: valid actions are 0 to 1"
    with pytest.raises(ValueError, match=message):
        bandit.step(2)


def test_mushroom_lucky_probability_is_the_chance_of_the_good_outcome(tmp_path):
    bandit = mushroom_bandit(tmp_path, lucky_prob=0.8, seed=1)
    rewards = []
    for _ in range(6000):
        edible = bandit.edible[bandit.current_row]
        _, reward = bandit.step(1)
        if not edible:
            rewards.append(reward)
    lucky = int(np.sum(np.array(rewards) == 5.0))
    assert stats.binomtest(lucky, len(rewards), 0.8).pvalue > 1e-3
