# curricula/: curriculum files shipped with lethe (see curricula/README.md).
EXTRA_DIST += %reldir%/README.md %reldir%/public-sequential.yaml %reldir%/public-mixed.yaml %reldir%/pretrained-sequential.yaml \
	%reldir%/quickstart.yaml %reldir%/quickstart-replay.yaml %reldir%/quickstart %reldir%/instruct.yaml %reldir%/instruct \
	%reldir%/methods
