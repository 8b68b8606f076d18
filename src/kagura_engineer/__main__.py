from kagura_engineer.cli import main

raise SystemExit(main())
