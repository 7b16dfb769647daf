from gnnrec_course.cli import main

raise SystemExit(main())
