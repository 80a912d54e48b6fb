# docs/: the guides (Markdown, shipped in the tarball) and the man pages (installed).
dist_man_MANS += %reldir%/lethe.1 %reldir%/lethe-curriculum.5
EXTRA_DIST += %reldir%/plugin-guide.md %reldir%/plugin-abi.md %reldir%/metrics.md \
	%reldir%/performance.md %reldir%/api.md %reldir%/plugins %reldir%/model.md %reldir%/curriculum.md %reldir%/data.md %reldir%/run-file.md %reldir%/forgetting.md %reldir%/methods.md %reldir%/models.md %reldir%/reliability.md %reldir%/report-quickstart.png
