from llmosd.cli import main

raise SystemExit(main())
