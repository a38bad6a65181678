# make run   installs, fetches the data, runs both notebooks headless (outputs stored in them) and exports HTML
# make test  installs and runs every test: each notebook alone on Colab's packages (tests/compat.py colab), then the
#            unit tests and both notebooks under nbval in their short mode
# One notebook only: make run NOTEBOOKS=gan_variants.ipynb
# make compat  each notebook alone in an empty folder, on Colab's packages, TensorFlow 2.16 and the newest
PYTHON ?= python3
SHARED_DATA := $(abspath ../shared/data)
# The offline copy of the data beside this repository, when there is one; else the public mirrors.
export DLND_DATA_SOURCE ?= $(if $(wildcard $(SHARED_DATA)/mnist),$(SHARED_DATA),)
NOTEBOOKS ?= dlnd_face_generation.ipynb gan_variants.ipynb

.PHONY: install data run test compat gradescope-pythons bench review grade submission release

# Debian's packages where they are missing (as root, with apt-get): bubblewrap sandboxes the grader and the review,
# Chromium renders the graders' feedback pages in the tests.
APT_INSTALL = sh -c '[ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$@" >/dev/null' apt-install

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@command -v bwrap >/dev/null || $(APT_INSTALL) bubblewrap || \
		echo "note: bubblewrap is not installed; python -m dlnd grade and review then run each step as a user of its own"

data: install
	$(PYTHON) -c "import helper; [helper.download_extract(name) for name in ('mnist', 'celeba', 'flowers')]"

run: data
	$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=-1 $(NOTEBOOKS)
	$(PYTHON) -m jupyter nbconvert --to html --output-dir build $(NOTEBOOKS)

test: install
	@command -v chromium >/dev/null || $(APT_INSTALL) chromium || echo "note: Chromium is not installed (apt-get install chromium)"
	$(PYTHON) tests/compat.py colab
	DLND_SMOKE_TEST=1 $(PYTHON) -m pytest --nbval tests $(NOTEBOOKS)

compat: install
	$(PYTHON) tests/compat.py $(COMPAT)

# The Gradescope bundle installed by its setup.sh into a venv of Python 3.10 and 3.12 (those present), grading there
gradescope-pythons: install
	DLND_PYTHONS_TEST=1 $(PYTHON) -m pytest tests/test_gradescope_pythons.py

bench: install data
	$(PYTHON) bench/bench_data.py
	$(PYTHON) bench/bench_train.py
	$(PYTHON) bench/bench_grade.py

# make grade SUBMISSIONS=folder/  grades a class into graded/ (results.json, feedback.html, grades.csv)
grade: install
	$(PYTHON) -m dlnd grade $(SUBMISSIONS) --out graded

review:
	for notebook in $(NOTEBOOKS); do $(PYTHON) -m dlnd review $$notebook || exit 1; done

submission:
	for notebook in $(NOTEBOOKS); do $(PYTHON) -m dlnd submit $$notebook -o submission_$${notebook%.ipynb}.zip || exit 1; done

release:
	for notebook in $(NOTEBOOKS); do $(PYTHON) -m dlnd release $$notebook || exit 1; done
